// UDP: one on_traffic per datagram, replies to the sender, truncation reported, IPv6, multicast;
// recvmmsg/sendmmsg batches (bursts from many sockets, several or no replies per datagram, a
// truncated datagram among others), send_to and ConnHandle::async_send_to.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <thread>
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

namespace {

// A bound, unconnected client socket (so the server's replies and send_to's can find it).
struct Peer {
  int fd = -1;
  std::uint16_t port = 0;
  explicit Peer(int family = AF_INET) : fd(udp_client(family)) {
    socklen_t len;
    sockaddr_storage me = loopback(family, 0, &len);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&me), len), 0);
    len = sizeof me;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&me)->sin_port);
  }
  ~Peer() { ::close(fd); }
  SocketAddress address() const {
    socklen_t len;
    sockaddr_storage ss = loopback(AF_INET, port, &len);
    return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
  }
  void send_to(std::uint16_t server_port, std::string_view data) const {
    socklen_t len;
    sockaddr_storage to = loopback(AF_INET, server_port, &len);
    ASSERT_EQ(::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&to), len),
              static_cast<ssize_t>(data.size()));
  }
  // The next datagram and the port it came from; fails when none arrives within 20 s (a hang
  // guard, not a timing check).
  std::string recv(std::uint16_t* from_port = nullptr) const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20000) != 1) {
      ADD_FAILURE() << "no datagram on port " << port;
      return "<none>";
    }
    std::string buf(70000, '\0');
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (from_port) *from_port = ntohs(from.sin_port);
    buf.resize(static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    return buf;
  }
};

// Datagram `seq` of client `client`: a distinct size and distinct bytes, its identity up front.
std::string burst_payload(int client, int seq) {
  std::string head = std::to_string(client) + ":" + std::to_string(seq) + ":";
  std::size_t size = head.size() + static_cast<std::size_t>((client * 131 + seq * 17) % 1200);
  return head + random_bytes(size - head.size(), static_cast<std::uint64_t>(client) << 32 | static_cast<std::uint64_t>(seq));
}

}  // namespace

// 10 000 datagrams from 8 sockets, each keeping 8 in flight (so the server's recvmmsg finds
// many at once, from different senders): every echo matched to its sender, in order, byte-exact.
TEST(UdpBatch, BurstFromSeveralSocketsEveryEchoReachesItsSenderInOrder) {
  UdpEcho h;
  ServerThread server(h, "udp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  constexpr int kClients = 8, kPerClient = 1250, kWindow = 8;
  std::vector<std::unique_ptr<Peer>> peers;
  for (int c = 0; c < kClients; ++c) peers.push_back(std::make_unique<Peer>());
  std::vector<int> sent(kClients, 0), received(kClients, 0);
  std::vector<pollfd> fds;
  for (auto& p : peers) fds.push_back({p->fd, POLLIN, 0});
  for (int c = 0; c < kClients; ++c) {
    for (; sent[c] < kWindow; ++sent[c]) peers[c]->send_to(server.port(), burst_payload(c, sent[c]));
  }
  int done = 0;
  std::string buf(70000, '\0');
  while (done < kClients) {
    ASSERT_GT(::poll(fds.data(), fds.size(), 20000), 0) << "echoes stopped coming";
    for (int c = 0; c < kClients; ++c) {
      if (!(fds[c].revents & POLLIN)) continue;
      for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(peers[c]->fd, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) break;
        ASSERT_EQ(ntohs(from.sin_port), server.port());
        std::string want = burst_payload(c, received[c]);
        ASSERT_EQ(std::string_view(buf.data(), static_cast<std::size_t>(n)), want)
            << "client " << c << " expected its datagram " << received[c] << " back next";
        if (++received[c] == kPerClient) ++done;
        if (sent[c] < kPerClient) peers[c]->send_to(server.port(), burst_payload(c, sent[c]++));
      }
    }
  }
  EXPECT_EQ(h.datagrams, kClients * kPerClient);
  LoopMetrics m = server.engine().metrics().total;
  EXPECT_EQ(m.messages_in, static_cast<std::uint64_t>(kClients * kPerClient));
  EXPECT_EQ(m.datagrams_dropped, 0u);
  EXPECT_EQ(m.bytes_out, m.bytes_in);
}

// Datagram "n:tag" asks for n replies: none, one, two, and 100 (more than a sendmmsg batch
// holds, so the batch flushes in the middle of a callback); replies are built in a local string
// (copied into the batch), except n == 1, which echoes the received bytes (referenced).
TEST(UdpBatch, NoneOneTwoOrManyRepliesPerDatagramKeepTheirOrder) {
  struct Replies : EventHandler {
    Action on_traffic(Conn& c) override {
      std::string in(c.next());
      int n = std::stoi(in.substr(0, in.find(':')));
      if (n == 1) {
        EXPECT_FALSE(c.write(in));
        return Action::none;
      }
      for (int k = 0; k < n; ++k) {
        std::string reply = in + "#" + std::to_string(k);
        EXPECT_FALSE(c.write(reply));
      }
      return Action::none;
    }
  } h;
  ServerThread server(h, "udp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  Peer peer;
  const int plan[] = {2, 0, 1, 0, 0, 2, 1, 100, 1, 0, 2, 3, 0, 1};
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < std::size(plan); ++i) {
    std::string in = std::to_string(plan[i]) + ":" + std::to_string(i) + ":" + random_bytes(i * 37, i);
    peer.send_to(server.port(), in);  // a burst: the server may take them in one recvmmsg
    if (plan[i] == 1) expected.push_back(in);
    for (int k = 0; plan[i] != 1 && k < plan[i]; ++k) expected.push_back(in + "#" + std::to_string(k));
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(peer.recv(), expected[i]) << "reply " << i;
  }
  pollfd p{peer.fd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 50), 0) << "no reply beyond those asked for";
}

// Replies of 60 000 bytes, five to a datagram: more than the batch's 256 KiB reply area, which
// must flush before it would overflow.
TEST(UdpBatch, LargeCopiedRepliesFlushWhenTheReplyAreaFills) {
  struct Big : EventHandler {
    Action on_traffic(Conn& c) override {
      std::string in(c.next());
      for (int k = 0; k < 5; ++k) EXPECT_FALSE(c.write(random_bytes(60000, std::stoull(in) * 10 + static_cast<unsigned>(k))));
      return Action::none;
    }
  } h;
  ServerThread server(h, "udp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  Peer peer;
  for (int d = 0; d < 3; ++d) {
    peer.send_to(server.port(), std::to_string(d));
    for (int k = 0; k < 5; ++k) {
      ASSERT_EQ(peer.recv(), random_bytes(60000, static_cast<std::uint64_t>(d) * 10 + static_cast<unsigned>(k))) << d << "/" << k;
    }
  }
  EXPECT_EQ(server.engine().metrics().total.datagrams_dropped, 0u);
}

// A datagram larger than read_buffer_cap among smaller ones sent back to back: reported and
// dropped alone; its neighbours, before and after, are echoed.
TEST(UdpBatch, TruncatedDatagramInABatchLosesNoNeighbour) {
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
  Peer peer;
  std::vector<std::string> small;
  for (int i = 0; i < 20; ++i) small.push_back(random_bytes(1000 + static_cast<std::size_t>(i), static_cast<std::uint64_t>(i)));
  for (int i = 0; i < 10; ++i) peer.send_to(server.port(), small[static_cast<std::size_t>(i)]);
  peer.send_to(server.port(), std::string(2000, 'x'));
  for (int i = 10; i < 20; ++i) peer.send_to(server.port(), small[static_cast<std::size_t>(i)]);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(peer.recv(), small[static_cast<std::size_t>(i)]) << "echo " << i;
  EXPECT_EQ(h.datagrams, 20);
  EXPECT_EQ(server.engine().metrics().total.datagrams_dropped, 1u);
  std::lock_guard lock(mu);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("udp datagram of 2000 bytes"), std::string::npos) << warnings[0];
}

// send_to: "port:text" is forwarded to that port (a third socket), and the sender hears "sent".
TEST(UdpBatch, SendToReachesAThirdSocket) {
  struct Forward : EventHandler {
    Action on_traffic(Conn& c) override {
      std::string in(c.next());
      std::size_t colon = in.find(':');
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<std::uint16_t>(std::stoi(in.substr(0, colon))));
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      EXPECT_FALSE(c.send_to(in.substr(colon + 1), SocketAddress(reinterpret_cast<sockaddr*>(&to), sizeof to)));
      EXPECT_FALSE(c.write("sent"));
      EXPECT_EQ(c.send_to("x", SocketAddress{}), std::errc::address_family_not_supported);
      return Action::none;
    }
  } h;
  ServerThread server(h, "udp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  Peer sender, third;
  for (int i = 0; i < 50; ++i) sender.send_to(server.port(), std::to_string(third.port) + ":" + random_bytes(100 + static_cast<std::size_t>(i), static_cast<std::uint64_t>(i)));
  for (int i = 0; i < 50; ++i) {
    std::uint16_t from = 0;
    ASSERT_EQ(third.recv(&from), random_bytes(100 + static_cast<std::size_t>(i), static_cast<std::uint64_t>(i))) << i;
    EXPECT_EQ(from, server.port());
    ASSERT_EQ(sender.recv(), "sent");
  }
}

TEST(UdpBatch, SendToOnATcpConnectionIsNotDatagram) {
  struct Tcp : EventHandler {
    Action on_traffic(Conn& c) override {
      c.discard();
      std::error_code ec = c.send_to("x", c.remote_addr());
      c.write(ec == Errc::not_datagram ? "not_datagram" : "other: " + ec.message());
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  send_all(fd, "?");
  EXPECT_EQ(recv_exact(fd, 12), "not_datagram");
  close_fd(fd);
}

// Replies computed on a worker thread and sent later with ConnHandle::async_send_to: each reply
// (the datagram reversed) reaches its own sender, in order, and on_done hears success.
TEST(UdpBatch, AsyncSendToFromAWorkerThread) {
  struct Job {
    ConnHandle socket;
    SocketAddress to;
    std::string data;
  };
  struct Offload : EventHandler {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job> jobs;
    bool stop = false;
    std::atomic<int> sent_ok{0}, sent_failed{0};
    Action on_traffic(Conn& c) override {
      std::lock_guard lock(mu);
      jobs.push_back({c.handle(), c.remote_addr(), std::string(c.next())});
      cv.notify_one();
      return Action::none;
    }
    void work() {
      for (;;) {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stop || !jobs.empty(); });
        if (jobs.empty()) return;
        Job job = std::move(jobs.front());
        jobs.pop_front();
        lock.unlock();
        std::string reply(job.data.rbegin(), job.data.rend());
        std::error_code ec = job.socket.async_send_to(std::move(reply), job.to, [this](std::error_code e) {
          ++(e ? sent_failed : sent_ok);
        });
        EXPECT_FALSE(ec);
      }
    }
  } h;
  ServerThread server(h, "udp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  std::thread worker([&] { h.work(); });
  Peer a, b;
  constexpr int kEach = 192;  // a multiple of the 16 checked at a time
  auto payload = [](int who, int i) { return std::to_string(who) + "/" + std::to_string(i) + random_bytes(static_cast<std::size_t>(i), static_cast<std::uint64_t>(who * 1000 + i)); };
  for (int i = 0; i < kEach; ++i) {
    a.send_to(server.port(), payload(0, i));
    b.send_to(server.port(), payload(1, i));
    if (i % 16 == 15) {  // keep what is in flight well under the sockets' buffers
      for (int k = i - 15; k <= i; ++k) {
        std::string wa = payload(0, k), wb = payload(1, k);
        ASSERT_EQ(a.recv(), std::string(wa.rbegin(), wa.rend())) << k;
        ASSERT_EQ(b.recv(), std::string(wb.rbegin(), wb.rend())) << k;
      }
    }
  }
  {
    std::lock_guard lock(h.mu);
    h.stop = true;
    h.cv.notify_one();
  }
  worker.join();
  (void)server.stop();
  EXPECT_EQ(h.sent_ok, 2 * kEach);
  EXPECT_EQ(h.sent_failed, 0);
}

// What a handle answers when it names the wrong kind of thing.
TEST(UdpBatch, HandleErrorsAreNamed) {
  struct Keep : EventHandler {
    std::mutex mu;
    std::vector<ConnHandle> handles;
    Action on_open(Conn& c) override {
      std::lock_guard lock(mu);
      handles.push_back(c.handle());
      return Action::none;
    }
    Action on_traffic(Conn& c) override {
      std::lock_guard lock(mu);
      handles.push_back(c.handle());
      c.discard();
      c.write("k");
      return Action::none;
    }
  } h;
  ServerThread server(h, std::vector<std::string>{"tcp://127.0.0.1:0", "udp://127.0.0.1:0"});
  ASSERT_TRUE(server.ok());
  int tcp = connect_tcp(server.port(0));
  Peer peer;
  peer.send_to(server.port(1), "?");
  ASSERT_EQ(peer.recv(), "k");
  ConnHandle tcp_handle, udp_handle;
  for (;;) {  // on_open runs on the loop; wait for it (a hang guard is ctest's timeout)
    std::lock_guard lock(h.mu);
    if (h.handles.size() == 2) {
      tcp_handle = h.handles[0];
      udp_handle = h.handles[1];
      break;
    }
    std::this_thread::yield();
  }
  auto result = [](auto call) {
    std::promise<std::error_code> p;
    auto f = p.get_future();
    EXPECT_FALSE(call([&p](std::error_code ec) { p.set_value(ec); }));
    return f.get();
  };
  EXPECT_EQ(result([&](auto done) { return tcp_handle.async_send_to("x", peer.address(), std::move(done)); }),
            Errc::not_datagram);
  EXPECT_EQ(result([&](auto done) { return udp_handle.async_write("x", std::move(done)); }), Errc::connection_closed)
      << "a shared socket's handle names no peer to write to";
  EXPECT_EQ(result([&](auto done) { return udp_handle.async_send_to("direct", peer.address(), std::move(done)); }),
            std::error_code{});
  EXPECT_EQ(peer.recv(), "direct");
  close_fd(tcp);
}

namespace {

bool kernel_knows_udp_segment() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  int value = 0;
  socklen_t len = sizeof value;
  bool ok = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &value, &len) == 0;
  ::close(fd);
  return ok;
}

struct LogLines {
  std::mutex mu;
  std::vector<std::string> lines;
  LogSink sink() {
    return [this](LogLevel, std::string_view msg) {
      std::lock_guard lock(mu);
      lines.emplace_back(msg);
    };
  }
  bool has(std::string_view what) {
    std::lock_guard lock(mu);
    for (const std::string& l : lines)
      if (l.find(what) != std::string::npos) return true;
    return false;
  }
};

// "n:size:seed" asks for n replies of `size` bytes and one of size/2 + 1: a run GSO can carry.
struct EqualReplies : EventHandler {
  Action on_traffic(Conn& c) override {
    std::string in(c.next());
    int n = 0;
    std::size_t size = 0;
    unsigned seed = 0;
    std::sscanf(in.c_str(), "%d:%zu:%u", &n, &size, &seed);
    for (int k = 0; k < n; ++k) EXPECT_FALSE(c.write(random_bytes(size, seed + static_cast<unsigned>(k))));
    EXPECT_FALSE(c.write(random_bytes(size / 2 + 1, seed + 1000)));
    return Action::none;
  }
};

void expect_equal_replies(Peer& peer, std::uint16_t port, int n, std::size_t size, unsigned seed) {
  peer.send_to(port, std::to_string(n) + ":" + std::to_string(size) + ":" + std::to_string(seed));
  for (int k = 0; k < n; ++k) ASSERT_EQ(peer.recv(), random_bytes(size, seed + static_cast<unsigned>(k))) << "reply " << k;
  ASSERT_EQ(peer.recv(), random_bytes(size / 2 + 1, seed + 1000)) << "the shorter last reply";
}

}  // namespace

// Equal-sized replies to one peer: with offload they leave as GSO sends (the log says so once),
// and the peer still gets each as its own datagram, byte-exact and in order. 100 replies: more
// than one GSO entry carries (64); 10 x 9000 bytes: more than its 64 KiB bound splits the run too.
TEST(UdpOffload, GsoRepliesArriveAsTheSameSeparateDatagrams) {
  for (bool offload : {true, false}) {
    SCOPED_TRACE(offload ? "udp_offload on" : "udp_offload off");
    EqualReplies h;
    LogLines log;
    Options opts;
    opts.udp_offload = offload;
    opts.logger = log.sink();
    ServerThread server(h, "udp://127.0.0.1:0", opts);
    ASSERT_TRUE(server.ok());
    Peer peer;
    expect_equal_replies(peer, server.port(), 100, 300, 1);
    expect_equal_replies(peer, server.port(), 30, 1400, 2);
    expect_equal_replies(peer, server.port(), 10, 9000, 3);
    (void)server.stop();
    EXPECT_EQ(log.has("segmentation offload (UDP_SEGMENT) in use"), offload && kernel_knows_udp_segment());
    EXPECT_FALSE(log.has("refused"));
  }
}

// A peer that sends with GSO itself: 20 x 500 bytes + 123 in one sendmsg. With UDP_GRO on the
// server's socket the kernel delivers them coalesced (loopback keeps a GSO send whole for a GRO
// socket); the server splits them back: 21 on_traffic calls, 21 echoes, byte-exact, in order.
TEST(UdpOffload, GroCoalescedDatagramsAreSplitIntoOneOnTrafficEach) {
  if (!kernel_knows_udp_segment()) GTEST_SKIP() << "no UDP_SEGMENT in this kernel";
  for (bool offload : {true, false}) {
    SCOPED_TRACE(offload ? "udp_offload on" : "udp_offload off");
    UdpEcho h;
    LogLines log;
    Options opts;
    opts.udp_offload = offload;
    opts.logger = log.sink();
    ServerThread server(h, "udp://127.0.0.1:0", opts);
    ASSERT_TRUE(server.ok());
    Peer peer;
    std::vector<std::string> parts;
    for (int i = 0; i < 20; ++i) parts.push_back(random_bytes(500, static_cast<std::uint64_t>(i) + 77));
    parts.push_back(random_bytes(123, 99));
    std::string all;
    for (const std::string& p : parts) all += p;
    socklen_t len;
    sockaddr_storage to = loopback(AF_INET, server.port(), &len);
    iovec iov{all.data(), all.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint16_t))] = {};
    msghdr msg{};
    msg.msg_name = &to;
    msg.msg_namelen = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const std::uint16_t segment = 500;
    std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
    if (::sendmsg(peer.fd, &msg, 0) != static_cast<ssize_t>(all.size())) {
      GTEST_SKIP() << "the kernel refused a GSO send on loopback: " << std::strerror(errno);
    }
    for (std::size_t i = 0; i < parts.size(); ++i) ASSERT_EQ(peer.recv(), parts[i]) << "datagram " << i;
    EXPECT_EQ(h.datagrams, 21);
    (void)server.stop();
    if (offload) {
      EXPECT_TRUE(log.has("receive offload (UDP_GRO) in use")) << "the coalesced path was not taken";
    } else {
      EXPECT_FALSE(log.has("UDP_GRO"));
    }
  }
}

// The unconnected socket serves every peer, so nothing one peer's datagram makes the handler do
// ends it: a throw is logged, Action::close and close() are ignored. What a handler sees of it
// through Conn: no queue, no TLS, never closing; writev is one datagram of all the parts.
TEST(Udp, SharedSocketOutlivesThrowsAndClosesAndShowsNoQueue) {
  struct Picky : EventHandler {
    std::atomic<int> closes{0};
    Action on_traffic(Conn& c) override {
      const std::string got(c.next());
      if (got == "throw") throw std::runtime_error("a bad datagram");
      if (got == "close") {
        c.close();
        return Action::close;
      }
      std::string facts;
      facts += c.closing() ? "closing," : "open,";
      facts += c.tls() ? "tls," : "plain,";
      facts += "queued=" + std::to_string(c.outbound_buffered()) + ",";
      facts += c.outbound_full() ? "full," : "room,";
      facts += c.flush() ? "flush-failed," : "flushed,";
      facts += c.inbound_buffered() == 0 ? "consumed," : "left,";
      facts += c.listener_index() == 0 ? "listener0," : "listener?,";
      facts += c.local_addr().to_string() == c.remote_addr().to_string() ? "self," : "peer,";
      const std::string_view parts[] = {facts, "|", got};
      EXPECT_FALSE(c.writev(parts));
      return Action::none;
    }
    Action on_close(Conn&, std::error_code) override {
      ++closes;
      return Action::none;
    }
  } h;
  ServerThread server(h, "udp://127.0.0.1:0", {.logger = null_logger()});
  ASSERT_TRUE(server.ok());
  int fd = udp_client(AF_INET);
  socklen_t len;
  sockaddr_storage to = loopback(AF_INET, server.port(), &len);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), len), 0);
  for (const char* d : {"throw", "close"}) ASSERT_EQ(::send(fd, d, std::strlen(d), 0), static_cast<ssize_t>(std::strlen(d)));
  ASSERT_EQ(::send(fd, "after", 5, 0), 5);
  char buf[512] = {};
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 20000), 1) << "the socket stopped answering";
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)),
            "open,plain,queued=0,room,flushed,consumed,listener0,peer,|after");
  ::close(fd);
  ASSERT_TRUE(server.stop());
  EXPECT_EQ(h.closes, 0) << "no on_close for the shared socket";
}
