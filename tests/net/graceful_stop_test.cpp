// Graceful stop: queued output drains before connections close, or the deadline is reported.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

// Sends `burst` bytes to every connection at open; the clients don't read until told.
struct Burst : EventHandler {
  explicit Burst(std::size_t n) : payload(random_bytes(n, 77)) {}
  std::string payload;
  std::atomic<int> opened{0}, shutdowns{0};
  std::mutex mu;
  std::vector<std::error_code> errors;
  Action on_open(Conn& c) override {
    c.write(payload);
    ++opened;
    return Action::none;
  }
  Action on_close(Conn&, std::error_code ec) override {
    std::lock_guard lock(mu);
    errors.push_back(ec);
    return Action::none;
  }
  void on_shutdown(Engine&) override { ++shutdowns; }
};

}  // namespace

TEST(GracefulStop, HundredStreamingConnectionsGetEveryQueuedByteThenEof) {
  Burst h(1 << 20);  // 1 MiB each: far more than the socket buffers take
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 2, .shutdown_timeout = 60s});
  ASSERT_TRUE(server.ok());
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i) fds.push_back(connect_tcp(server.port()));
  ASSERT_TRUE(eventually([&] { return h.opened == 100; }));
  std::thread stopper([&] { ASSERT_TRUE(server.stop()); });
  // Only now do the clients read: everything queued before stop must still arrive.
  for (int fd : fds) {
    EXPECT_EQ(recv_exact(fd, h.payload.size()), h.payload);
    EXPECT_TRUE(wait_closed(fd));
    close_fd(fd);
  }
  stopper.join();
  EXPECT_EQ(h.shutdowns, 1);
  std::lock_guard lock(h.mu);
  ASSERT_EQ(h.errors.size(), 100u);
  for (auto ec : h.errors) EXPECT_FALSE(ec) << ec.message();
}

TEST(GracefulStop, PeersThatNeverReadAreCutAtTheDeadlineWithTheReason) {
  // More than the kernel can hold for a peer that reads nothing (the sender's buffer autotunes
  // up to tcp_wmem's 4 MiB, the receiver's is capped small below), so output stays queued.
  Burst h(16 << 20);
  ServerThread server(h, "tcp://127.0.0.1:0", {.shutdown_timeout = 200ms});
  ASSERT_TRUE(server.ok());
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) {
    fds.push_back(connect_tcp(server.port()));
    int small = 4096;
    ::setsockopt(fds.back(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  ASSERT_TRUE(eventually([&] { return h.opened == 10; }));
  ASSERT_TRUE(server.stop());  // returns although nobody reads
  std::lock_guard lock(h.mu);
  ASSERT_EQ(h.errors.size(), 10u);
  for (auto ec : h.errors) EXPECT_EQ(ec, Errc::shutdown_deadline);
  for (int fd : fds) close_fd(fd);
}
