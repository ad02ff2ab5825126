// gnet's socket knobs, as the kernel reports them: TCP keepalive (idle, interval, count) from
// Options and from Conn::set_keep_alive, SO_BINDTODEVICE on listeners, and edge-triggered mode's
// per-turn read chunk (fairness between connections, no byte lost).
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gnet/gnet.hpp"
#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

int get_int(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, level, name, &v, &len) != 0) return -1;
  return v;
}

struct KeepAlive {
  int on = -1, idle = -1, interval = -1, count = -1;
  static KeepAlive of(int fd) {
    return {get_int(fd, SOL_SOCKET, SO_KEEPALIVE), get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE),
            get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), get_int(fd, IPPROTO_TCP, TCP_KEEPCNT)};
  }
};

// Records the keepalive settings of each accepted socket in on_open, optionally after changing
// them with Conn::set_keep_alive(idle, interval, count).
struct KeepAliveProbe : EventHandler {
  bool change = false;
  std::mutex mu;
  std::vector<KeepAlive> seen;
  std::error_code change_error;
  Action on_open(Conn& c) override {
    std::lock_guard lock(mu);
    if (change) change_error = c.set_keep_alive(40s, 9s, 3);
    seen.push_back(KeepAlive::of(c.fd()));
    return Action::none;
  }
};

}  // namespace

TEST(SocketOptions, KeepAliveIdleIntervalAndCountFromOptions) {
  KeepAliveProbe h;
  ServerThread server(h, "tcp://127.0.0.1:0",
                      {.tcp_keepalive = 30s, .tcp_keepalive_interval = 7s, .tcp_keepalive_count = 4});
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(h.mu);
    return h.seen.size() == 1;
  }));
  std::lock_guard lock(h.mu);
  EXPECT_EQ(h.seen[0].on, 1);
  EXPECT_EQ(h.seen[0].idle, 30);
  EXPECT_EQ(h.seen[0].interval, 7);
  EXPECT_EQ(h.seen[0].count, 4);
  close_fd(fd);
}

TEST(SocketOptions, KeepAliveIntervalDefaultsToTheIdlePeriodAndCountToFive) {
  KeepAliveProbe h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.tcp_keepalive = 12s});
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(h.mu);
    return h.seen.size() == 1;
  }));
  std::lock_guard lock(h.mu);
  EXPECT_EQ(h.seen[0].on, 1);
  EXPECT_EQ(h.seen[0].idle, 12);
  EXPECT_EQ(h.seen[0].interval, 12);
  EXPECT_EQ(h.seen[0].count, 5);
  close_fd(fd);
}

TEST(SocketOptions, ConnSetKeepAliveWithIntervalAndCount) {
  KeepAliveProbe h;
  h.change = true;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(h.mu);
    return h.seen.size() == 1;
  }));
  std::lock_guard lock(h.mu);
  EXPECT_FALSE(h.change_error) << h.change_error.message();
  EXPECT_EQ(h.seen[0].on, 1);
  EXPECT_EQ(h.seen[0].idle, 40);
  EXPECT_EQ(h.seen[0].interval, 9);
  EXPECT_EQ(h.seen[0].count, 3);
  close_fd(fd);
}

TEST(SocketOptions, BindToDeviceAppliesToTheListener) {
  struct Echo : EventHandler {
    Action on_traffic(Conn& c) override {
      c.write(c.next());
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.bind_to_device = "lo"});
  ASSERT_TRUE(server.ok());
  // The kernel says the listening socket is bound to lo.
  Result<int> dup = server.engine().dup_listener(0);
  ASSERT_TRUE(dup);
  char name[IFNAMSIZ] = {};
  socklen_t len = sizeof name;
  ASSERT_EQ(::getsockopt(*dup, SOL_SOCKET, SO_BINDTODEVICE, name, &len), 0) << std::strerror(errno);
  EXPECT_STREQ(name, "lo");
  ::close(*dup);
  // And it serves traffic arriving on lo.
  int fd = connect_tcp(server.port());
  send_all(fd, "through lo");
  EXPECT_EQ(recv_exact(fd, 10), "through lo");
  close_fd(fd);
}

TEST(SocketOptions, BindToAnUnknownDeviceIsANamedSetupError) {
  EventHandler h;
  Options options;
  options.bind_to_device = "gnetnosuch0";
  Result<void> r = run(h, "tcp://127.0.0.1:0", options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::no_such_device) << r.error().message();
  EXPECT_NE(r.error().message().find("SO_BINDTODEVICE \"gnetnosuch0\""), std::string::npos) << r.error().message();
}

namespace {

// Both connections start paused; once each peer's bytes all wait in the server's kernel buffer,
// both resume in the same turn. Every delivery is recorded as (connection, bytes) and echoed.
struct Fairness : EventHandler {
  std::mutex mu;
  std::vector<std::pair<int, std::size_t>> deliveries;  // (index by open order, bytes)
  std::vector<ConnHandle> handles;
  std::atomic<int> opened{0};
  Action on_open(Conn& c) override {
    c.pause_read();
    c.set_context(opened.load());
    std::lock_guard lock(mu);
    handles.push_back(c.handle());
    ++opened;
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    std::string_view in = c.next();
    {
      std::lock_guard lock(mu);
      deliveries.emplace_back(*c.context<int>(), in.size());
    }
    c.write(in);
    return Action::none;
  }
};

// Runs two peers of `size` bytes each through an edge-triggered server with the given chunk;
// returns the order of deliveries. Every echoed byte is checked.
std::vector<std::pair<int, std::size_t>> run_two_senders(std::size_t chunk, std::size_t size) {
  Fairness h;
  Options options;
  options.backend = IoBackend::epoll;  // edge-triggered mode is epoll's
  options.edge_triggered_io = true;
  options.edge_triggered_chunk = chunk;
  options.socket_recv_buffer = 4 << 20;  // room for each peer's whole message in the kernel
  options.socket_send_buffer = 4 << 20;
  ServerThread server(h, "tcp://127.0.0.1:0", options);
  EXPECT_TRUE(server.ok());
  std::vector<int> fds;
  std::vector<std::string> payloads;
  for (int i = 0; i < 2; ++i) {
    fds.push_back(connect_tcp(server.port()));
    EXPECT_TRUE(eventually([&] { return h.opened == i + 1; }));
    payloads.push_back(random_bytes(size, 100 + static_cast<std::uint64_t>(i)));
  }
  for (int i = 0; i < 2; ++i) {
    int big = 4 << 20;
    ::setsockopt(fds[static_cast<std::size_t>(i)], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    send_all(fds[static_cast<std::size_t>(i)], payloads[static_cast<std::size_t>(i)]);
  }
  // Everything sent has left the peers (loopback acknowledges what the server's kernel holds).
  for (int fd : fds) {
    EXPECT_TRUE(eventually([&] {
      int unsent = -1;
      return ::ioctl(fd, SIOCOUTQ, &unsent) == 0 && unsent == 0;
    }));
  }
  std::vector<ConnHandle> handles;
  {
    std::lock_guard lock(h.mu);
    handles = h.handles;
  }
  // Resume both from one task on their loop: they become ready in the same turn.
  EXPECT_FALSE(server.engine().post(0, [&server, handles] {
    for (const ConnHandle& handle : handles) {
      if (Conn* c = server.engine().loop(0).lookup(handle)) c->resume_read();
    }
  }));
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(recv_exact(fds[i], size), payloads[i]) << "peer " << i;
  for (int fd : fds) close_fd(fd);
  std::lock_guard lock(h.mu);
  return h.deliveries;
}

}  // namespace

TEST(SocketOptions, EdgeTriggeredChunkInterleavesTwoBusyConnections) {
  constexpr std::size_t kSize = 1 << 20;
  const auto order = run_two_senders(64 * 1024, kSize);
  // Peer 1 is first served before peer 0 has had all of its bytes.
  std::size_t first_of_1 = order.size(), last_of_0 = 0;
  std::size_t total[2] = {0, 0};
  for (std::size_t i = 0; i < order.size(); ++i) {
    total[order[i].first] += order[i].second;
    if (order[i].first == 1 && first_of_1 == order.size()) first_of_1 = i;
    if (order[i].first == 0) last_of_0 = i;
  }
  EXPECT_EQ(total[0], kSize);
  EXPECT_EQ(total[1], kSize);
  EXPECT_LT(first_of_1, last_of_0) << "with a 64 KiB chunk the two connections take turns";
}

TEST(SocketOptions, WithoutAChunkOneConnectionIsReadToTheEndFirst) {
  // The control: the same run with no per-turn limit reads peer 0 dry before peer 1 gets a turn.
  constexpr std::size_t kSize = 1 << 20;
  const auto order = run_two_senders(0, kSize);
  std::size_t first_of_1 = order.size(), last_of_0 = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (order[i].first == 1 && first_of_1 == order.size()) first_of_1 = i;
    if (order[i].first == 0) last_of_0 = i;
  }
  EXPECT_GT(first_of_1, last_of_0);
}
