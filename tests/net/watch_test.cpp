// Loop::watch: descriptors the loop does not own (libcurl's, c-ares's, a pipe), watched for
// readiness only. Level-triggered on both backends, never a flag changed or a descriptor closed
// behind the owner's back, and every way to misuse it answered with a named error.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

struct Quiet : EventHandler {};

// A started client engine whose loop 0 the tests drive with posted tasks.
struct LoopFixture {
  Quiet handler;
  Client client{handler, {.num_event_loop = 1}};
  LoopFixture() { EXPECT_TRUE(client.start()); }
  ~LoopFixture() { client.stop(); }
  Loop& loop() { return client.engine().loop(0); }

  // Runs fn on the loop's thread and waits for its result.
  template <class F>
  auto on_loop(F fn) -> decltype(fn()) {
    std::promise<decltype(fn())> done;
    auto future = done.get_future();
    EXPECT_FALSE(loop().post([&] {
      if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        done.set_value();
      } else {
        done.set_value(fn());
      }
    }));
    return future.get();
  }
};

// A deadline that only turns a hang into a failure.
template <class T>
bool arrives(std::future<T>& f) {
  return f.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
}

std::pair<int, int> socket_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
  return {sv[0], sv[1]};
}

}  // namespace

// A blocking pipe read end, watched: every byte written arrives through the callback, and
// afterwards the descriptor is still open and still blocking (the loop changed nothing).
TEST(Watch, PipeBytesArriveAndTheDescriptorKeepsItsFlags) {
  LoopFixture f;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const int flags_before = ::fcntl(p[0], F_GETFL);
  ASSERT_FALSE(flags_before & O_NONBLOCK);

  const std::string payload = random_bytes(200000, 7);
  std::string got;
  std::promise<void> all_in;
  auto id = f.on_loop([&] {
    return f.loop().watch(p[0], Ready::readable, [&](Ready events) {
      ASSERT_TRUE(has(events, Ready::readable) || has(events, Ready::hangup));
      char buf[4096];
      ssize_t n = ::read(p[0], buf, sizeof buf);  // one read: readiness says it will not block
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<std::size_t>(n));
      if (got.size() == payload.size()) all_in.set_value();
    });
  });
  ASSERT_TRUE(id) << id.error().message();
  std::thread writer([&] {  // blocking writes into a 64 KiB pipe
    std::string_view rest = payload;
    while (!rest.empty()) {
      ssize_t n = ::write(p[1], rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0);
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  });
  auto all_in_f = all_in.get_future();
  ASSERT_TRUE(arrives(all_in_f)) << got.size() << " of " << payload.size() << " bytes";
  writer.join();
  EXPECT_EQ(got, payload);
  EXPECT_TRUE(f.on_loop([&] { return f.loop().unwatch(*id); }));
  EXPECT_EQ(::fcntl(p[0], F_GETFL), flags_before);
  EXPECT_EQ(::fcntl(p[0], F_GETFD), FD_CLOEXEC);  // open, and untouched
  ::close(p[0]);
  ::close(p[1]);
}

// Level-triggered: three bytes read one per callback means three callbacks, with no new byte
// arriving in between (an edge-triggered watch would stall after the first).
TEST(Watch, LevelTriggeredCallsAgainWhileBytesRemain) {
  LoopFixture f;
  auto [a, b] = socket_pair();
  send_all(b, "xyz");
  std::string got;
  std::promise<void> done;
  auto id = f.on_loop([&] {
    return f.loop().watch(a, Ready::readable, [&](Ready) {
      char c;
      ASSERT_EQ(::read(a, &c, 1), 1);
      got.push_back(c);
      if (got.size() == 3) done.set_value();
    });
  });
  ASSERT_TRUE(id);
  auto done_f = done.get_future();
  ASSERT_TRUE(arrives(done_f)) << "got only \"" << got << "\"";
  EXPECT_EQ(got, "xyz");
  f.on_loop([&] { f.loop().unwatch(*id); });
  close_fd(a);
  close_fd(b);
}

// Interest can change from inside the callback: writable once, then switched to readable; the
// writable callbacks stop at once although the socket stays writable.
TEST(Watch, InterestChangesFromTheCallback) {
  LoopFixture f;
  auto [a, b] = socket_pair();
  int writable_calls = 0, readable_calls = 0;
  std::promise<void> read_seen;
  WatchId id = 0;
  f.on_loop([&] {
    auto r = f.loop().watch(a, Ready::writable, [&](Ready events) {
      if (has(events, Ready::writable)) {
        ++writable_calls;
        ASSERT_EQ(::write(a, "ping", 4), 4);
        EXPECT_FALSE(f.loop().set_interest(id, Ready::readable));
      }
      if (has(events, Ready::readable)) {
        char buf[8];
        ASSERT_EQ(::read(a, buf, sizeof buf), 4);
        EXPECT_EQ(std::string(buf, 4), "pong");
        ++readable_calls;
        EXPECT_FALSE(f.loop().set_interest(id, Ready::none));
        read_seen.set_value();
      }
    });
    ASSERT_TRUE(r) << r.error().message();
    id = *r;
  });
  EXPECT_EQ(recv_exact(b, 4), "ping");
  send_all(b, "pong");
  auto read_seen_f = read_seen.get_future();
  ASSERT_TRUE(arrives(read_seen_f));
  // A few more turns (tasks round-trip through the loop): a silenced watch stays silent.
  for (int i = 0; i < 5; ++i) f.on_loop([] {});
  f.on_loop([&] {
    EXPECT_EQ(writable_calls, 1);
    EXPECT_EQ(readable_calls, 1);
    EXPECT_TRUE(f.loop().unwatch(id));
    EXPECT_FALSE(f.loop().unwatch(id));  // once only
  });
  close_fd(a);
  close_fd(b);
}

// A callback that unwatches its own watch and another that is ready in the same turn: the
// other's callback never runs, and nothing touches freed memory (ASan watches this one).
TEST(Watch, UnwatchingInsideACallbackSilencesOthersReadyInTheSameTurn) {
  LoopFixture f;
  constexpr int kPairs = 8;
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < kPairs; ++i) pairs.push_back(socket_pair());
  for (auto& [a, b] : pairs) send_all(b, "!");  // all ready before any is watched
  std::vector<WatchId> ids(kPairs);
  std::atomic<int> calls{0};
  std::promise<void> first;
  f.on_loop([&] {
    for (int i = 0; i < kPairs; ++i) {
      auto r = f.loop().watch(pairs[i].first, Ready::readable, [&, i](Ready) {
        ++calls;
        for (WatchId other : ids) f.loop().unwatch(other);  // itself included
        (void)i;
        first.set_value();
      });
      ASSERT_TRUE(r);
      ids[i] = *r;
    }
  });
  auto first_f = first.get_future();
  ASSERT_TRUE(arrives(first_f));
  for (int i = 0; i < 5; ++i) f.on_loop([] {});
  EXPECT_EQ(calls.load(), 1);
  for (auto& [a, b] : pairs) {
    char c;
    EXPECT_EQ(::recv(a, &c, 1, MSG_DONTWAIT), 1);  // the byte is still there: nobody read it
    close_fd(a);
    close_fd(b);
  }
}

// The peer going away is heard: readable (EOF) and/or hangup, on both backends.
TEST(Watch, PeerCloseIsHeard) {
  LoopFixture f;
  auto [a, b] = socket_pair();
  std::promise<Ready> heard;
  bool once = false;
  auto id = f.on_loop([&] {
    return f.loop().watch(a, Ready::readable, [&](Ready events) {
      if (once) return;
      once = true;
      char c;
      EXPECT_EQ(::read(a, &c, 1), 0);  // end of input
      heard.set_value(events);
    });
  });
  ASSERT_TRUE(id);
  close_fd(b);
  auto heard_f = heard.get_future();
  ASSERT_TRUE(arrives(heard_f));
  Ready events = heard_f.get();
  EXPECT_TRUE(has(events, Ready::readable) || has(events, Ready::hangup));
  f.on_loop([&] { f.loop().unwatch(*id); });
  close_fd(a);
}

TEST(Watch, MisuseGetsNamedErrors) {
  LoopFixture f;
  auto [a, b] = socket_pair();
  char path[] = "/tmp/gnet-watch-XXXXXX";
  int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  ::unlink(path);
  f.on_loop([&] {
    Loop& loop = f.loop();
    auto bad = loop.watch(-1, Ready::readable, [](Ready) {});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), std::errc::bad_file_descriptor);

    int closed = ::dup(a);
    ::close(closed);
    auto gone = loop.watch(closed, Ready::readable, [](Ready) {});
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code(), std::errc::bad_file_descriptor);

    auto regular = loop.watch(file, Ready::readable, [](Ready) {});
    ASSERT_FALSE(regular);
    EXPECT_EQ(regular.error().code(), std::errc::operation_not_permitted);
    EXPECT_NE(regular.error().message().find("gnet::File"), std::string::npos);

    auto no_callback = loop.watch(a, Ready::readable, {});
    ASSERT_FALSE(no_callback);
    EXPECT_EQ(no_callback.error().code(), std::errc::invalid_argument);

    auto first = loop.watch(a, Ready::none, [](Ready) {});
    ASSERT_TRUE(first);
    auto twice = loop.watch(a, Ready::readable, [](Ready) {});
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().code(), std::errc::file_exists);

    EXPECT_EQ(loop.set_interest(*first + 1000, Ready::readable), std::errc::invalid_argument);
    EXPECT_FALSE(loop.unwatch(*first + 1000));
    EXPECT_TRUE(loop.unwatch(*first));
  });
  ::close(file);
  close_fd(a);
  close_fd(b);
}

// Watches left in place when the engine stops are dropped; the descriptors are the caller's and
// stay open.
TEST(Watch, StoppingTheEngineLeavesWatchedDescriptorsOpen) {
  auto [a, b] = socket_pair();
  {
    LoopFixture f;
    send_all(b, "x");
    std::promise<void> called;
    bool once = false;
    f.on_loop([&] {
      ASSERT_TRUE(f.loop().watch(a, Ready::readable | Ready::writable, [&](Ready) {
        if (!once) called.set_value();
        once = true;
      }));
    });
    auto called_f = called.get_future();
    ASSERT_TRUE(arrives(called_f));
  }
  EXPECT_EQ(::fcntl(a, F_GETFD), FD_CLOEXEC);
  send_all(a, "still open");
  EXPECT_EQ(recv_exact(b, 10), "still open");
  close_fd(a);
  close_fd(b);
}
