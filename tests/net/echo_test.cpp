// Echo over real loopback sockets, every byte verified.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

struct Echo : EventHandler {
  Action on_traffic(Conn& c) override {
    c.write(c.next());
    return Action::none;
  }
};

std::vector<std::string> random_payloads(std::size_t count, std::size_t max_size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(random_bytes(1 + rng() % max_size, seed * 1000 + i));
  return out;
}

}  // namespace

TEST(Echo, ThousandConcurrentClientsRandomSizesUpTo1MiB) {
  Echo echo;
  ServerThread server(echo, "tcp://127.0.0.1:0", {.num_event_loop = 2});
  ASSERT_TRUE(server.ok());
  auto failures = run_echo_clients(server.port(), random_payloads(1000, 1 << 20, 42));
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  ASSERT_TRUE(server.stop());
}

TEST(Echo, EdgeTriggeredReusePortFourLoops) {
  Echo echo;
  ServerThread server(echo, "tcp://127.0.0.1:0", {.num_event_loop = 4, .reuse_port = true, .edge_triggered_io = true});
  ASSERT_TRUE(server.ok());
  auto failures = run_echo_clients(server.port(), random_payloads(200, 256 * 1024, 7));
  EXPECT_TRUE(failures.empty()) << failures.front();
}

TEST(Echo, SmallReadBufferForcesLeftoversThroughTheRing) {
  // A handler that consumes in 7-byte steps and a 1 KiB loop buffer: bytes left unconsumed must
  // come back first on the next call, in order, across ring wrap-arounds.
  struct Chunky : EventHandler {
    Action on_traffic(Conn& c) override {
      while (c.inbound_buffered() >= 7) c.write(c.next(7));
      return Action::none;
    }
  } chunky;
  ServerThread server(chunky, "tcp://127.0.0.1:0", {.read_buffer_cap = 1024});
  ASSERT_TRUE(server.ok());
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; ++i) payloads.push_back(random_bytes(7 * (1 + i * 97), static_cast<std::uint64_t>(i)));
  auto failures = run_echo_clients(server.port(), payloads);
  EXPECT_TRUE(failures.empty()) << failures.front();
}

TEST(Echo, IPv6Loopback) {
  Echo echo;
  ServerThread server(echo, "tcp6://[::1]:0");
  if (!server.ok()) GTEST_SKIP() << "IPv6 loopback unavailable: " << server.stop().error().message();
  int fd = connect_tcp(server.port(), true);
  std::string msg = random_bytes(100000, 3);
  send_all(fd, msg);
  EXPECT_EQ(recv_exact(fd, msg.size()), msg);
  close_fd(fd);
}

TEST(Echo, PeekNextDiscardReadSeeOneContiguousStream) {
  // Length-prefixed frames split across reads: peek the header, wait for the whole frame.
  struct Framed : EventHandler {
    Action on_traffic(Conn& c) override {
      for (;;) {
        std::string_view hdr = c.peek(4);
        if (hdr.size() < 4) return Action::none;
        std::uint32_t len = 0;
        std::memcpy(&len, hdr.data(), 4);
        if (c.inbound_buffered() < 4 + len) return Action::none;
        EXPECT_EQ(c.discard(4), 4u);
        std::string body(len, '\0');
        EXPECT_EQ(c.read(body), len);
        std::string reply = "ok:" + std::to_string(len) + ":" + body.substr(0, 3) + "\n";
        c.write(reply);
      }
    }
  } framed;
  ServerThread server(framed, "tcp://127.0.0.1:0", {.read_buffer_cap = 4096});
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  std::string expect, wire;
  for (std::uint32_t len : {1u, 3u, 5000u, 70000u, 4u, 0u}) {
    std::string body = random_bytes(len, len);
    wire.append(reinterpret_cast<const char*>(&len), 4);
    wire += body;
    expect += "ok:" + std::to_string(len) + ":" + body.substr(0, 3) + "\n";
  }
  // Dribble it out in odd-sized pieces so frames straddle reads.
  for (std::size_t off = 0; off < wire.size(); off += 1237) send_all(fd, std::string_view(wire).substr(off, 1237));
  EXPECT_EQ(recv_exact(fd, expect.size()), expect);
  close_fd(fd);
}
