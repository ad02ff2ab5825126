// The balancers' choice sequences.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <vector>

#include "engine/load_balancer.hpp"

using gnet::LoadBalancing;
using gnet::SocketAddress;
using gnet::detail::LoadBalancer;

namespace {
SocketAddress v4(const char* ip, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, ip, &sa.sin_addr);
  return SocketAddress(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
}
}  // namespace

TEST(LoadBalancer, RoundRobinCyclesThroughLoops) {
  LoadBalancer lb(LoadBalancing::round_robin, 3);
  std::vector<int> loads{5, 0, 9};
  std::vector<int> seq;
  for (int i = 0; i < 7; ++i) seq.push_back(lb.choose(loads, v4("10.0.0.1", 1)));
  EXPECT_EQ(seq, (std::vector<int>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(LoadBalancer, LeastConnectionsPicksTheLightestLowestIndexOnTies) {
  LoadBalancer lb(LoadBalancing::least_connections, 4);
  EXPECT_EQ(lb.choose(std::vector<int>{3, 1, 2, 1}, v4("1.1.1.1", 1)), 1);
  EXPECT_EQ(lb.choose(std::vector<int>{0, 0, 0, 0}, v4("1.1.1.1", 1)), 0);
  EXPECT_EQ(lb.choose(std::vector<int>{4, 4, 4, 3}, v4("1.1.1.1", 1)), 3);
  // Simulate assignment: each choice adds one to that loop; the spread stays even.
  std::vector<int> loads{0, 0, 0, 0};
  for (int i = 0; i < 40; ++i) ++loads[static_cast<std::size_t>(lb.choose(loads, v4("1.1.1.1", 1)))];
  EXPECT_EQ(loads, (std::vector<int>{10, 10, 10, 10}));
}

TEST(LoadBalancer, SourceHashIsStickyPerHostAndIgnoresPort) {
  LoadBalancer lb(LoadBalancing::source_addr_hash, 4);
  std::vector<int> loads{0, 0, 0, 0};
  int a = lb.choose(loads, v4("192.168.1.10", 1000));
  for (std::uint16_t port = 1; port < 50; ++port) EXPECT_EQ(lb.choose(loads, v4("192.168.1.10", port)), a);
  // Different hosts spread: 256 hosts hit every loop.
  std::vector<int> hits(4, 0);
  for (int i = 0; i < 256; ++i) {
    std::string ip = "10.0." + std::to_string(i) + ".7";
    ++hits[static_cast<std::size_t>(lb.choose(loads, v4(ip.c_str(), 80)))];
  }
  for (int h : hits) EXPECT_GT(h, 0);
}

TEST(LoadBalancer, OneLoopAlwaysZero) {
  LoadBalancer lb(LoadBalancing::source_addr_hash, 1);
  EXPECT_EQ(lb.choose(std::vector<int>{7}, v4("8.8.8.8", 53)), 0);
}
