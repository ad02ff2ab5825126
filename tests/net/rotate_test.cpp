// rotate(): one engine, TCP + UDP + Unix listeners at once, on the same loops.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

TEST(Rotate, TrafficOnTcpUdpAndUnixAtOnce) {
  char tmpl[] = "/tmp/gnet-rotate-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/r.sock";
  struct Tagger : EventHandler {
    std::mutex mu;
    std::set<std::pair<int, int>> seen;  // (listener index, network)
    Action on_traffic(Conn& c) override {
      {
        std::lock_guard lock(mu);
        seen.insert({c.listener_index(), static_cast<int>(c.network())});
      }
      std::string tag = std::to_string(c.listener_index()) + ":";
      c.write(tag + std::string(c.next()));
      return Action::none;
    }
  } h;
  ServerThread server(h, std::vector<std::string>{"tcp://127.0.0.1:0", "udp://127.0.0.1:0", "unix://" + path},
                      {.num_event_loop = 2});
  ASSERT_TRUE(server.ok());
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int k = 0; k < 4; ++k) {
    clients.emplace_back([&] {
      int fd = connect_tcp(server.port(0));
      for (int i = 0; i < 200; ++i) {
        std::string m = "tcp" + std::to_string(i);
        send_all(fd, m);
        if (recv_exact(fd, m.size() + 2) == "0:" + m) ++ok;
      }
      close_fd(fd);
    });
    clients.emplace_back([&] {
      int fd = connect_unix(path, SOCK_STREAM);
      for (int i = 0; i < 200; ++i) {
        std::string m = "unix" + std::to_string(i);
        send_all(fd, m);
        if (recv_exact(fd, m.size() + 2) == "2:" + m) ++ok;
      }
      close_fd(fd);
    });
    clients.emplace_back([&] {
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(server.port(1));
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      char buf[64];
      for (int i = 0; i < 200; ++i) {
        std::string m = "udp" + std::to_string(i);
        ::send(fd, m.data(), m.size(), 0);
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20000) != 1) break;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (std::string(buf, static_cast<std::size_t>(n)) == "1:" + m) ++ok;
      }
      ::close(fd);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 4 * 3 * 200);
  std::lock_guard lock(h.mu);
  EXPECT_EQ(h.seen, (std::set<std::pair<int, int>>{{0, static_cast<int>(Network::tcp)},
                                                   {1, static_cast<int>(Network::udp)},
                                                   {2, static_cast<int>(Network::unix_stream)}}));
  ASSERT_TRUE(server.stop());
  ::rmdir(dir.c_str());
}
