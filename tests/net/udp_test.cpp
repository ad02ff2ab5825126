// UDP: one on_traffic per datagram, replies to the sender, truncation reported, IPv6, multicast.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

struct UdpEcho : EventHandler {
  std::atomic<int> datagrams{0}, opens{0};
  Action on_open(Conn&) override {
    ++opens;
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    ++datagrams;
    EXPECT_EQ(c.network(), Network::udp);
    c.write(c.next());
    return Action::none;
  }
};

int udp_client(int family) {
  int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int big = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  return fd;
}

sockaddr_storage loopback(int family, std::uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *len = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    sa->sin6_addr = in6addr_loopback;
    *len = sizeof(sockaddr_in6);
  }
  return ss;
}

// Sends each payload and waits for its echo (ping-pong: loopback never overflows a buffer).
void ping_pong(int family, std::uint16_t port, const std::vector<std::string>& payloads) {
  int fd = udp_client(family);
  socklen_t len;
  sockaddr_storage to = loopback(family, port, &len);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), len), 0);
  std::string buf(70000, '\0');
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    ASSERT_EQ(::send(fd, payloads[i].data(), payloads[i].size(), 0), static_cast<ssize_t>(payloads[i].size()));
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 20000), 1) << "no echo for datagram " << i;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    ASSERT_EQ(n, static_cast<ssize_t>(payloads[i].size())) << "datagram " << i << " came back a different size";
    ASSERT_EQ(std::memcmp(buf.data(), payloads[i].data(), payloads[i].size()), 0) << "datagram " << i;
  }
  ::close(fd);
}

}  // namespace

TEST(Udp, TenThousandDatagramsOfRandomSizesEchoedExactly) {
  UdpEcho h;
  ServerThread server(h, "udp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  std::mt19937_64 rng(5);
  std::vector<std::string> payloads;
  for (int i = 0; i < 10000; ++i) payloads.push_back(random_bytes(1 + rng() % 65507, static_cast<std::uint64_t>(i)));
  ping_pong(AF_INET, server.port(), payloads);
  EXPECT_EQ(h.datagrams, 10000);
  EXPECT_EQ(h.opens, 0) << "no on_open for unconnected UDP";
  EXPECT_EQ(server.engine().count_connections(), 0u);
}

TEST(Udp, IPv6) {
  UdpEcho h;
  ServerThread server(h, "udp6://[::1]:0");
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback: " << server.stop().error().message();
  ping_pong(AF_INET6, server.port(), {"a", std::string(1400, 'b'), random_bytes(65000, 1)});
}

TEST(Udp, RemoteAddrIsTheSenderOfEachDatagram) {
  struct Who : EventHandler {
    Action on_traffic(Conn& c) override {
      c.discard();
      c.write(c.remote_addr().to_string());
      return Action::none;
    }
  } h;
  ServerThread server(h, "udp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  for (int k = 0; k < 3; ++k) {
    int fd = udp_client(AF_INET);
    socklen_t len;
    sockaddr_storage to = loopback(AF_INET, server.port(), &len);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), len), 0);
    sockaddr_in me{};
    socklen_t mlen = sizeof me;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &mlen);
    ASSERT_EQ(::send(fd, "?", 1, 0), 1);
    char buf[64] = {};
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 20000), 1);
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "127.0.0.1:" + std::to_string(ntohs(me.sin_port)));
    ::close(fd);
  }
}

TEST(Udp, OversizedDatagramIsReportedAsTruncatedNotCut) {
  UdpEcho h;
  std::mutex mu;
  std::vector<std::string> warnings;
  Options opts;
  opts.read_buffer_cap = 1024;
  opts.logger = [&](LogLevel level, std::string_view msg) {
    std::lock_guard lock(mu);
    if (level >= LogLevel::warn) warnings.emplace_back(msg);
  };
  ServerThread server(h, "udp://127.0.0.1:0", opts);
  ASSERT_TRUE(server.ok());
  int fd = udp_client(AF_INET);
  socklen_t len;
  sockaddr_storage to = loopback(AF_INET, server.port(), &len);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), len), 0);
  std::string big(2000, 'x');
  ASSERT_EQ(::send(fd, big.data(), big.size(), 0), 2000);
  ping_pong(AF_INET, server.port(), {"after the big one"});  // the socket keeps serving
  EXPECT_EQ(h.datagrams, 1) << "the truncated datagram is not delivered cut";
  std::lock_guard lock(mu);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("udp datagram of 2000 bytes"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("truncated to read_buffer_cap 1024; dropped"), std::string::npos) << warnings[0];
  ::close(fd);
}

TEST(Udp, ReusePortSpreadsOverLoopsAndAllAnswer) {
  UdpEcho h;
  ServerThread server(h, "udp://127.0.0.1:0", {.num_event_loop = 2, .reuse_port = true});
  ASSERT_TRUE(server.ok());
  for (int k = 0; k < 20; ++k) ping_pong(AF_INET, server.port(), {"hello " + std::to_string(k)});
  EXPECT_EQ(h.datagrams, 20);
}

TEST(Udp, MulticastGroupOnLoopback) {
  UdpEcho h;
  ServerThread server(h, "udp://239.255.77.1:0", {.multicast_interface = "lo"});
  if (!server.ok()) {
    GTEST_SKIP() << "the kernel refused joining a group on lo here: " << server.stop().error().message();
  }
  int fd = udp_client(AF_INET);
  in_addr lo{};
  lo.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo), 0);
  sockaddr_in group{};
  group.sin_family = AF_INET;
  group.sin_port = htons(server.port());
  ::inet_pton(AF_INET, "239.255.77.1", &group.sin_addr);
  ASSERT_EQ(::sendto(fd, "to the group", 12, 0, reinterpret_cast<sockaddr*>(&group), sizeof group), 12);
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 3000) != 1) {
    ::close(fd);
    GTEST_SKIP() << "joined, but multicast is not routed over lo in this kernel/namespace";
  }
  char buf[64];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "to the group");
  ::close(fd);
}
