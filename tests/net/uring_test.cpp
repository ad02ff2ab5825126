// What only the io_uring backend can get wrong, over real loopback sockets: running out of
// provided buffers, pausing while a multishot receive is under way, a descriptor number reused
// while the kernel still owes completions for its previous owner, stopping with sends in
// flight, and the errors that say why a ring cannot be had. (The rest of the suite also runs on
// this backend: see tests/CMakeLists.txt.) Skipped, with the reason, where the kernel refuses a
// ring.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

#define SKIP_WITHOUT_IO_URING()                                                  \
  do {                                                                           \
    if (Error why = io_uring_unavailable()) GTEST_SKIP() << why.message();       \
  } while (0)

Options uring(Options o = {}) {
  o.backend = IoBackend::io_uring;
  return o;
}

struct Echo : EventHandler {
  Action on_traffic(Conn& c) override {
    c.write(c.next());
    return Action::none;
  }
};

std::vector<std::string> payloads(std::size_t count, std::size_t size, std::uint64_t seed) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(random_bytes(size, seed * 100 + i));
  return out;
}

}  // namespace

TEST(Uring, EngineReportsTheBackendItRunsOn) {
  SKIP_WITHOUT_IO_URING();
  Echo echo;
  ServerThread server(echo, "tcp://127.0.0.1:0", uring());
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server.engine().io_backend(), IoBackend::io_uring);
  EXPECT_STREQ(server.engine().loop(0).io_backend_name(), "io_uring");
  ASSERT_TRUE(server.stop());

  ServerThread plain(echo, "tcp://127.0.0.1:0", {.backend = IoBackend::epoll});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.engine().io_backend(), IoBackend::epoll);
  ASSERT_TRUE(plain.stop());
}

// Two 64-byte buffers for the whole loop: nearly every receive ends with ENOBUFS and is
// re-armed. 16 clients × 256 KiB must still come back byte for byte, in order.
TEST(Uring, TwoTinyProvidedBuffersLoseNoBytes) {
  SKIP_WITHOUT_IO_URING();
  Echo echo;
  ServerThread server(echo, "tcp://127.0.0.1:0", uring({.io_uring_buffer_size = 64, .io_uring_buffer_count = 2}));
  ASSERT_TRUE(server.ok());
  auto failures = run_echo_clients(server.port(), payloads(16, 256 * 1024, 3));
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  ASSERT_TRUE(server.stop());
}

// Reading is paused after every delivery and resumed from a timer, so the multishot receive is
// cancelled and re-armed thousands of times with data still arriving: what completes after the
// pause must be kept and handed over first on resume, never lost or reordered.
TEST(Uring, PausingWhileReceivingKeepsEveryByteInOrder) {
  SKIP_WITHOUT_IO_URING();
  struct Pauser : EventHandler {
    std::atomic<int> pauses{0};
    Action on_traffic(Conn& c) override {
      c.write(c.next());
      c.pause_read();
      ++pauses;
      Loop& loop = c.loop();
      loop.run_after(std::chrono::microseconds(200), [&loop, h = c.handle()] {
        if (Conn* again = loop.lookup(h)) again->resume_read();
      });
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", uring({.io_uring_buffer_size = 1024}));
  ASSERT_TRUE(server.ok());
  auto failures = run_echo_clients(server.port(), payloads(8, 1 << 20, 5));
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  EXPECT_GT(h.pauses.load(), 100);
  ASSERT_TRUE(server.stop());
}

// A connection is reset while 4 MiB of its output is in flight, and the next connection gets
// the same descriptor number before that send's completion is in: the late completion must
// reach the old (closed) connection only, and the new one must echo exactly. Under ASan a
// completion touching freed memory fails the test.
TEST(Uring, DescriptorReusedWhileCompletionsAreInFlight) {
  SKIP_WITHOUT_IO_URING();
  struct Handler : EventHandler {
    std::mutex mu;
    std::set<int> fds;
    int reused = 0;
    std::atomic<int> closes{0};
    Action on_open(Conn& c) override {
      std::lock_guard lock(mu);
      if (!fds.insert(c.fd()).second) ++reused;
      return Action::none;
    }
    Action on_traffic(Conn& c) override {
      std::string data(c.next());
      if (data == "big") {
        c.write(std::string(4 << 20, 'x'));
      } else {
        c.write(data);
      }
      return Action::none;
    }
    Action on_close(Conn&, std::error_code) override {
      ++closes;
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", uring({.write_buffer_cap = 8 << 20}));
  ASSERT_TRUE(server.ok());
  for (int i = 0; i < 50; ++i) {
    int a = connect_tcp(server.port());
    int small = 4096;
    ::setsockopt(a, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    send_all(a, "big");
    ASSERT_EQ(recv_exact(a, 1), "x");  // the server's send is under way, and stuck
    ::linger reset{1, 0};
    ::setsockopt(a, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close_fd(a);  // RST: the in-flight send fails
    ASSERT_TRUE(eventually([&] { return h.closes.load() == 2 * i + 1; })) << "iteration " << i;
    int b = connect_tcp(server.port());
    std::string msg = "hello " + std::to_string(i);
    send_all(b, msg);
    EXPECT_EQ(recv_exact(b, msg.size()), msg);
    close_fd(b);
    ASSERT_TRUE(eventually([&] { return h.closes.load() == 2 * i + 2; })) << "iteration " << i;
  }
  {
    std::lock_guard lock(h.mu);
    EXPECT_GT(h.reused, 0) << "the server never reused a descriptor number";
  }
  ASSERT_TRUE(server.stop());
}

// Stop while 8 MiB per client is still queued or in flight: every byte is delivered before the
// connections close (within shutdown_timeout), then the engine returns.
TEST(Uring, GracefulStopDeliversSendsInFlight) {
  SKIP_WITHOUT_IO_URING();
  constexpr std::size_t kSize = 8 << 20;
  const std::string blob = random_bytes(kSize, 77);
  struct Handler : EventHandler {
    const std::string* blob;
    Action on_traffic(Conn& c) override {
      c.discard(c.inbound_buffered());
      if (c.context<bool>() == nullptr) {  // once per connection, however "go" arrives
        c.set_context(true);
        c.write(*blob);
      }
      return Action::none;
    }
  } h;
  h.blob = &blob;
  ServerThread server(h, "tcp://127.0.0.1:0", uring({.shutdown_timeout = std::chrono::seconds(30)}));
  ASSERT_TRUE(server.ok());
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(connect_tcp(server.port()));
    send_all(clients.back(), "go");
    ASSERT_EQ(recv_exact(clients.back(), 1), blob.substr(0, 1));
  }
  std::thread stopper([&] { EXPECT_TRUE(server.stop()); });
  for (int fd : clients) {
    EXPECT_TRUE(recv_exact(fd, kSize - 1) == blob.substr(1)) << "bytes lost or changed";
    EXPECT_TRUE(wait_closed(fd));
    close_fd(fd);
  }
  stopper.join();
}

TEST(Uring, BadSettingsAndBadEnvironmentAreNamedErrors) {
  Echo echo;
  if (!io_uring_unavailable()) {
    auto r = run(echo, "tcp://127.0.0.1:0", uring({.io_uring_buffer_count = 3}));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("power of two"), std::string::npos) << r.error().message();
  }
  const char* saved = std::getenv("GNET_BACKEND");
  std::string keep = saved != nullptr ? saved : "";
  ::setenv("GNET_BACKEND", "kqueue", 1);
  auto r = run(echo, "tcp://127.0.0.1:0", {});
  if (saved != nullptr) {
    ::setenv("GNET_BACKEND", keep.c_str(), 1);
  } else {
    ::unsetenv("GNET_BACKEND");
  }
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("GNET_BACKEND=kqueue"), std::string::npos) << r.error().message();
}

// More listeners on one loop than the submission queue has entries (1024): before the loop
// starts, the ring cannot be flushed, so the accepts that did not fit are armed at start. Every
// listener accepts.
TEST(Uring, MoreListenersThanSubmissionEntriesAllAccept) {
  SKIP_WITHOUT_IO_URING();
  constexpr int kListeners = 1100;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < 2 * kListeners + 64) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit.rlim_max << " too low";
  const rlimit saved = limit;
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  {
    Echo echo;
    ServerThread server(echo, std::vector<std::string>(kListeners, "tcp://127.0.0.1:0"), uring());
    ASSERT_TRUE(server.ok());
    const auto addresses = server.engine().listen_addresses();
    ASSERT_EQ(addresses.size(), static_cast<std::size_t>(kListeners));
    for (int i : {0, 1023, 1024, kListeners - 1}) {  // both sides of the queue's size
      int fd = connect_tcp(addresses[static_cast<std::size_t>(i)].port());
      const std::string msg = "listener " + std::to_string(i);
      send_all(fd, msg);
      EXPECT_EQ(recv_exact(fd, msg.size()), msg);
      close_fd(fd);
    }
    ASSERT_TRUE(server.stop());
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
}
