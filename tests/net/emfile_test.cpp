// Running out of descriptors: accepting pauses (no spin, logged once) and resumes by itself.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

TEST(Emfile, AcceptPausesThenResumesWhenDescriptorsFreeUp) {
  struct Echo : EventHandler {
    std::atomic<int> opened{0};
    Action on_open(Conn&) override {
      ++opened;
      return Action::none;
    }
    Action on_traffic(Conn& c) override {
      c.write(c.next());
      return Action::none;
    }
  } h;
  std::mutex mu;
  int pause_logs = 0;
  Options opts;
  opts.logger = [&](LogLevel, std::string_view msg) {
    std::lock_guard lock(mu);
    if (msg.find("accept paused") != std::string_view::npos) ++pause_logs;
  };
  // The client sockets exist before the descriptors run out (connect needs no new one). The
  // limit is lowered before the server starts: io_uring's multishot accept takes the limit in
  // force when it is armed. Then every remaining descriptor below it is taken.
  constexpr int kClients = 8;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) highest = fd;
  }
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(highest + 64);  // room for the server's own descriptors
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  ServerThread server(h, "tcp://127.0.0.1:0", opts);
  ASSERT_TRUE(server.ok());
  std::vector<int> fillers;
  for (;;) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    fillers.push_back(fd);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(server.port());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : clients) {
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << "completes in the backlog";
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return pause_logs > 0;
  })) << "accept must hit EMFILE";
  EXPECT_EQ(h.opened, 0);
  // Give descriptors back: the server resumes accepting and serves every waiting client.
  for (int fd : fillers) ::close(fd);
  fillers.clear();
  ::setrlimit(RLIMIT_NOFILE, &old);
  for (int i = 0; i < kClients; ++i) {
    std::string msg = "client " + std::to_string(i);
    send_all(clients[static_cast<std::size_t>(i)], msg);
    EXPECT_EQ(recv_exact(clients[static_cast<std::size_t>(i)], msg.size()), msg);
  }
  EXPECT_EQ(h.opened, kClients);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(pause_logs, 1) << "one episode, one log line: the listener waits instead of spinning";
  }
  // The episode is counted once too (before its log line, so it is visible here).
  EngineMetrics m = server.engine().metrics();
  EXPECT_EQ(m.total.emfile_episodes, 1u);
  EXPECT_EQ(m.total.accepted, static_cast<std::uint64_t>(kClients));
  for (int fd : clients) close_fd(fd);
}
