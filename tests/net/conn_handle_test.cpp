// ConnHandle: cross-thread writes, stale handles, fd reuse, engine gone.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

struct HandleKeeper : EventHandler {
  std::mutex mu;
  std::vector<ConnHandle> handles;
  std::vector<int> fds;
  std::atomic<int> opened{0}, closed{0};
  Action on_open(Conn& c) override {
    {
      std::lock_guard lock(mu);
      handles.push_back(c.handle());
      fds.push_back(c.fd());
    }
    ++opened;
    return Action::none;
  }
  Action on_close(Conn&, std::error_code) override {
    ++closed;
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    c.write(c.next());
    return Action::none;
  }
};

struct Record {
  std::uint32_t producer, seq, conn, check;
};

// n clients, each connected once the previous one's on_open ran, so h.handles[i] belongs to
// the i-th. An empty vector (and a test failure) when one never opened.
// "<m>": a marker between broadcast messages. (snprintf: GCC 12 at -O3 warns falsely on
// "<" + std::to_string(m) + ">".)
std::string marker(int m) {
  char text[16];
  const int n = std::snprintf(text, sizeof text, "<%d>", m);
  return std::string(text, static_cast<std::size_t>(n));
}

std::vector<int> connect_in_order(const ServerThread& server, HandleKeeper& h, int n) {
  std::vector<int> clients;
  const int before = h.opened;
  for (int i = 0; i < n; ++i) {
    clients.push_back(connect_tcp(server.port()));
    if (!eventually([&] { return h.opened == before + i + 1; })) {
      ADD_FAILURE() << "client " << i << " was never opened";
      for (int fd : clients) close_fd(fd);
      return {};
    }
  }
  return clients;
}

}  // namespace

TEST(ConnHandle, EightThreadsTimesTenThousandWritesArriveInOrderPerProducer) {
  constexpr int kConns = 100, kProducers = 8, kPerProducer = 10000;
  HandleKeeper h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 2});
  ASSERT_TRUE(server.ok());
  const std::vector<int> clients = connect_in_order(server, h, kConns);  // handles[i] is clients[i]'s
  ASSERT_EQ(clients.size(), static_cast<std::size_t>(kConns));
  std::atomic<int> refused{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int s = 0; s < kPerProducer; ++s) {
        auto c = static_cast<std::uint32_t>(s % kConns);
        Record r{static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(s), c, 0};
        r.check = r.producer * 2654435761u ^ r.seq * 40503u ^ c;
        if (h.handles[c].async_write(std::string(reinterpret_cast<char*>(&r), sizeof r))) ++refused;
      }
    });
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(refused, 0);
  const std::size_t per_conn = kProducers * kPerProducer / kConns * sizeof(Record);
  for (int c = 0; c < kConns; ++c) {
    std::string bytes = recv_exact(clients[static_cast<std::size_t>(c)], per_conn);
    std::map<std::uint32_t, std::int64_t> last;  // producer -> last seq seen
    for (std::size_t off = 0; off < bytes.size(); off += sizeof(Record)) {
      Record r;
      std::memcpy(&r, bytes.data() + off, sizeof r);
      ASSERT_EQ(r.check, r.producer * 2654435761u ^ r.seq * 40503u ^ r.conn) << "corrupt record";
      ASSERT_EQ(r.conn, static_cast<std::uint32_t>(c)) << "record for another connection";
      auto it = last.find(r.producer);
      std::int64_t prev = it == last.end() ? -1 : it->second;
      // Producer p writes seq s to conn s % kConns, so consecutive seqs on one conn differ by kConns.
      ASSERT_EQ(static_cast<std::int64_t>(r.seq), prev < 0 ? c : prev + kConns) << "lost, duplicated or reordered";
      last[r.producer] = r.seq;
    }
    EXPECT_EQ(last.size(), static_cast<std::size_t>(kProducers));
  }
  for (int fd : clients) close_fd(fd);
}

TEST(ConnHandle, StaleHandleNeverReachesTheConnectionThatReusedItsFd) {
  HandleKeeper h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int a = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] { return h.opened == 1; }));
  close_fd(a);
  ASSERT_TRUE(eventually([&] { return h.closed == 1; }));
  int b = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] { return h.opened == 2; }));
  ConnHandle stale, fresh;
  {
    std::lock_guard lock(h.mu);
    ASSERT_EQ(h.fds[0], h.fds[1]) << "the kernel should have reused the fd number";
    stale = h.handles[0];
    fresh = h.handles[1];
  }
  EXPECT_FALSE(stale == fresh);
  std::promise<std::error_code> write_done, close_done;
  EXPECT_FALSE(stale.async_write("LEAK", [&](std::error_code ec) { write_done.set_value(ec); }));
  EXPECT_FALSE(stale.wake());
  EXPECT_FALSE(stale.close([&](std::error_code ec) { close_done.set_value(ec); }));
  EXPECT_EQ(write_done.get_future().get(), Errc::connection_closed);
  EXPECT_EQ(close_done.get_future().get(), Errc::connection_closed);
  // b is still open and has received nothing but its own echo.
  send_all(b, "ping");
  EXPECT_EQ(recv_exact(b, 4), "ping");
  std::promise<std::error_code> fresh_done;
  EXPECT_FALSE(fresh.async_writev({"po", "ng"}, [&](std::error_code ec) { fresh_done.set_value(ec); }));
  EXPECT_FALSE(fresh_done.get_future().get());
  EXPECT_EQ(recv_exact(b, 4), "pong");
  close_fd(b);
}

TEST(ConnHandle, CloseFromAnotherThreadAndUseAfterEngineStopped) {
  HandleKeeper h;
  ConnHandle handle;
  {
    ServerThread server(h, "tcp://127.0.0.1:0");
    ASSERT_TRUE(server.ok());
    int fd = connect_tcp(server.port());
    ASSERT_TRUE(eventually([&] { return h.opened == 1; }));
    {
      std::lock_guard lock(h.mu);
      handle = h.handles[0];
    }
    std::promise<std::error_code> done;
    EXPECT_FALSE(handle.close([&](std::error_code ec) { done.set_value(ec); }));
    EXPECT_FALSE(done.get_future().get());
    EXPECT_TRUE(wait_closed(fd));
    close_fd(fd);
    ASSERT_TRUE(server.stop());
  }
  // The engine is gone; the handle is still safe to use and says so.
  EXPECT_EQ(handle.async_write("late"), Errc::engine_stopped);
  EXPECT_EQ(handle.wake(), Errc::engine_stopped);
  EXPECT_EQ(ConnHandle().async_write("x"), Errc::connection_closed) << "an empty handle";
}

TEST(ConnHandle, WakeRunsOnTrafficOnTheConnectionsLoop) {
  struct Waker : HandleKeeper {
    std::atomic<int> wakes{0};
    Action on_traffic(Conn& c) override {
      if (c.inbound_buffered() == 0) {
        ++wakes;
        c.write(std::string("woken on loop ") + std::to_string(c.loop().index()) +
                (c.loop().in_loop_thread() ? " thread" : " elsewhere"));
        return Action::none;
      }
      return HandleKeeper::on_traffic(c);
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] { return h.opened == 1; }));
  std::thread([&] { EXPECT_FALSE(h.handles[0].wake()); }).join();
  EXPECT_EQ(recv_exact(fd, 22), "woken on loop 0 thread");
  close_fd(fd);
}

TEST(ConnHandle, BroadcastWritesOneSharedPayloadToEveryRecipientInOrder) {
  constexpr int kConns = 40, kMessages = 20;
  constexpr std::size_t kSize = 64 * 1024;
  HandleKeeper h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 2});
  ASSERT_TRUE(server.ok());
  const std::vector<int> clients = connect_in_order(server, h, kConns);  // handles[i] is clients[i]'s
  ASSERT_EQ(clients.size(), static_cast<std::size_t>(kConns));
  std::vector<ConnHandle> all;
  {
    std::lock_guard lock(h.mu);
    all = h.handles;
  }
  ASSERT_NE(all[0].loop_index(), all[1].loop_index()) << "round robin: recipients on both loops";
  // A closed recipient and an empty handle are skipped: the rest get everything.
  int gone = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] { return h.opened == kConns + 1; }));
  ConnHandle stale;
  {
    std::lock_guard lock(h.mu);
    stale = h.handles.back();
  }
  close_fd(gone);
  ASSERT_TRUE(eventually([&] { return h.closed == 1; }));
  std::vector<ConnHandle> to = all;
  to.push_back(stale);
  to.push_back(ConnHandle());

  std::vector<SharedPayload> payloads;
  for (int m = 0; m < kMessages; ++m) {
    std::string bytes(kSize, '\0');
    for (std::size_t i = 0; i < kSize; ++i) bytes[i] = static_cast<char>((i * 31 + static_cast<std::size_t>(m) * 7) & 0xff);
    payloads.push_back(make_payload(std::move(bytes)));
  }
  const std::string* first_bytes = payloads[0].get();
  for (int m = 0; m < kMessages; ++m) {
    EXPECT_EQ(broadcast(to, payloads[static_cast<std::size_t>(m)]), static_cast<std::size_t>(kConns + 1))
        << "the stale handle's loop still takes the task; the empty handle is not counted";
    // Interleaved with a plain write to one recipient: same lane, so it lands between messages.
    EXPECT_FALSE(all[0].async_write(marker(m)));
    EXPECT_FALSE(all[1].async_write_shared(payloads[static_cast<std::size_t>(m)]));
  }
  for (int c = 0; c < kConns; ++c) {
    for (int m = 0; m < kMessages; ++m) {
      const std::string& want = *payloads[static_cast<std::size_t>(m)];
      ASSERT_EQ(recv_exact(clients[static_cast<std::size_t>(c)], kSize), want) << "client " << c << " message " << m;
      if (c == 0) {
        ASSERT_EQ(recv_exact(clients[0], marker(m).size()), marker(m));
      }
      if (c == 1) {
        ASSERT_EQ(recv_exact(clients[1], kSize), want) << "async_write_shared, message " << m;
      }
    }
  }
  // Every task has let go of the payloads: the caller holds the only reference.
  EXPECT_TRUE(eventually([&] {
    for (auto& p : payloads) {
      if (p.use_count() != 1) return false;
    }
    return true;
  }));
  EXPECT_EQ(payloads[0].get(), first_bytes);
  EXPECT_EQ(broadcast(to, nullptr), 0u);
  std::promise<std::error_code> null_done;
  EXPECT_FALSE(all[0].async_write_shared(nullptr, [&](std::error_code ec) { null_done.set_value(ec); }));
  EXPECT_FALSE(null_done.get_future().get());
  for (int fd : clients) close_fd(fd);
  ASSERT_TRUE(server.stop());
  EXPECT_EQ(broadcast(all, payloads[0]), 0u) << "loops that stopped take nothing";
}

TEST(Engine, PostRunsOnTheChosenLoopThread) {
  HandleKeeper h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 3});
  ASSERT_TRUE(server.ok());
  for (int i = 0; i < 3; ++i) {
    std::promise<bool> ran;
    Loop& loop = server.engine().loop(i);
    EXPECT_FALSE(server.engine().post(i, [&] { ran.set_value(loop.in_loop_thread()); }));
    EXPECT_TRUE(ran.get_future().get());
  }
  std::promise<void> any;
  EXPECT_FALSE(server.engine().post(-1, [&] { any.set_value(); }));
  any.get_future().get();
}

TEST(Engine, ThrowingTaskOrTimerIsLoggedAndTheLoopGoesOn) {
  HandleKeeper h;
  std::atomic<int> logged{0};
  Options opts;
  opts.logger = [&](LogLevel, std::string_view msg) {
    if (msg.find("task or timer threw: bad task") != std::string_view::npos) ++logged;
  };
  ServerThread server(h, "tcp://127.0.0.1:0", opts);
  ASSERT_TRUE(server.ok());
  EXPECT_FALSE(server.engine().post(0, [] { throw std::runtime_error("bad task"); }));
  std::promise<void> timer_armed;
  EXPECT_FALSE(server.engine().post(0, [&] {
    server.engine().loop(0).run_after(std::chrono::milliseconds(1), [] { throw std::runtime_error("bad task"); });
    timer_armed.set_value();
  }));
  timer_armed.get_future().wait();
  ASSERT_TRUE(eventually([&] { return logged == 2; }));
  int fd = connect_tcp(server.port());
  send_all(fd, "alive");
  EXPECT_EQ(recv_exact(fd, 5), "alive");
  close_fd(fd);
}
