// Connections spread over loops as each balancer promises.
#include <gtest/gtest.h>

#include <mutex>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

struct LoopCounter : EventHandler {
  std::mutex mu;
  std::vector<int> per_loop = std::vector<int>(8, 0);
  std::atomic<int> opened{0};
  Action on_open(Conn& c) override {
    {
      std::lock_guard lock(mu);
      ++per_loop[static_cast<std::size_t>(c.loop().index())];
    }
    ++opened;
    return Action::none;
  }
};

std::vector<int> spread(LoadBalancing lb, int loops, int conns, bool ipv6 = false) {
  LoopCounter h;
  ServerThread server(h, ipv6 ? "tcp://[::1]:0" : "tcp://127.0.0.1:0", {.num_event_loop = loops, .lb = lb});
  EXPECT_TRUE(server.ok());
  std::vector<int> fds;
  for (int i = 0; i < conns; ++i) {
    fds.push_back(connect_tcp(server.port(), ipv6));
    // One at a time, so least_connections sees every previous assignment.
    EXPECT_TRUE(eventually([&] { return h.opened == i + 1; }));
  }
  for (int fd : fds) close_fd(fd);
  std::lock_guard lock(h.mu);
  return std::vector<int>(h.per_loop.begin(), h.per_loop.begin() + loops);
}

}  // namespace

TEST(Balancer, RoundRobinSpreadsEvenly) {
  EXPECT_EQ(spread(LoadBalancing::round_robin, 4, 40), (std::vector<int>{10, 10, 10, 10}));
}

TEST(Balancer, LeastConnectionsFillsTheLightestLoop) {
  EXPECT_EQ(spread(LoadBalancing::least_connections, 3, 12), (std::vector<int>{4, 4, 4}));
}

TEST(Balancer, SourceAddrHashKeepsOneHostOnOneLoop) {
  auto v = spread(LoadBalancing::source_addr_hash, 4, 12);
  int loops_used = 0;
  for (int n : v) loops_used += n > 0;
  EXPECT_EQ(loops_used, 1) << "every connection from 127.0.0.1 lands on the same loop";
}

TEST(Balancer, ReusePortGivesEveryLoopItsOwnListener) {
  LoopCounter h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 2, .reuse_port = true});
  ASSERT_TRUE(server.ok());
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) fds.push_back(connect_tcp(server.port()));
  ASSERT_TRUE(eventually([&] { return h.opened == 64; }));
  for (int fd : fds) close_fd(fd);
}
