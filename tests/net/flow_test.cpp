// Back-pressure: a peer that reads slowly must not make the server's memory grow.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

TEST(Flow, SixtyFourMiBToASlowReaderStaysUnderTheWriteCap) {
  constexpr std::size_t kCap = 256 * 1024;
  constexpr std::size_t kReadBuf = 64 * 1024;
  struct Echo : EventHandler {
    std::atomic<std::size_t> max_queued{0};
    std::atomic<int> high{0}, low{0};
    Action on_traffic(Conn& c) override {
      c.write(c.next());
      if (c.outbound_buffered() > max_queued) max_queued = c.outbound_buffered();
      return Action::none;
    }
    void on_high_water(Conn&) override { ++high; }
    void on_low_water(Conn&) override { ++low; }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.read_buffer_cap = kReadBuf, .write_buffer_cap = kCap});
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  int small = 64 * 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  const std::string msg = random_bytes(64u << 20, 64);
  std::thread writer([&] { send_all(fd, msg); });
  // Nothing is read until the server's queue has passed the cap (it must: the reader's window is
  // small and closed), so the high-water mark is reached whatever the speed of either side.
  ASSERT_TRUE(eventually([&] { return h.high.load() > 0; }, std::chrono::seconds(60)));
  // The slow reader: small reads with pauses, checking every byte.
  std::string buf(16 * 1024, '\0');
  std::size_t got = 0;
  bool same = true;
  int reads = 0;
  while (got < msg.size()) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0) << "connection ended after " << got << " bytes";
    if (std::memcmp(buf.data(), msg.data() + got, static_cast<std::size_t>(n)) != 0) same = false;
    got += static_cast<std::size_t>(n);
    if (++reads % 64 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  writer.join();
  EXPECT_TRUE(same);
  // Reading pauses above the cap, so at most one more read's worth is ever queued.
  EXPECT_LE(h.max_queued.load(), kCap + kReadBuf);
  EXPECT_GT(h.high.load(), 0) << "the slow reader should have pushed the queue over the cap";
  EXPECT_EQ(h.high.load(), h.low.load());
  close_fd(fd);
}
