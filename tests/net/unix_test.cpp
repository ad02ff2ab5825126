// Unix stream and SEQPACKET sockets: echo, stale files, permissions, message boundaries.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <random>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

struct Echo : EventHandler {
  std::atomic<int> messages{0};
  Action on_traffic(Conn& c) override {
    ++messages;
    c.write(c.next());
    return Action::none;
  }
};

std::string temp_dir() {
  char tmpl[] = "/tmp/gnet-unix-XXXXXX";
  return ::mkdtemp(tmpl);
}

}  // namespace

TEST(Unix, StreamEchoVerifiedAndSocketFileRemovedOnShutdown) {
  std::string dir = temp_dir();
  std::string path = dir + "/echo.sock";
  Echo h;
  {
    ServerThread server(h, "unix://" + path, {.unix_mode = 0600});
    ASSERT_TRUE(server.ok());
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "unix_mode applied";
    int fd = connect_unix(path, SOCK_STREAM);
    std::string msg = random_bytes(2 << 20, 11);
    std::thread w([&] { send_all(fd, msg); });
    EXPECT_EQ(recv_exact(fd, msg.size()), msg);
    w.join();
    close_fd(fd);
    ASSERT_TRUE(server.stop());
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "socket file removed on shutdown";
  ::rmdir(dir.c_str());
}

TEST(Unix, StaleSocketFileIsReplaced) {
  std::string dir = temp_dir();
  std::string path = dir + "/stale.sock";
  // A socket file nobody listens on: bind then close without unlinking.
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, path.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
  ::close(s);
  Echo h;
  ServerThread server(h, "unix://" + path);
  ASSERT_TRUE(server.ok()) << "a stale socket file must be removed and replaced";
  int fd = connect_unix(path, SOCK_STREAM);
  send_all(fd, "alive");
  EXPECT_EQ(recv_exact(fd, 5), "alive");
  close_fd(fd);
  ASSERT_TRUE(server.stop());
  ::rmdir(dir.c_str());
}

TEST(Unix, RegularFileAtThePathIsAnErrorAndLeftAlone) {
  std::string dir = temp_dir();
  std::string path = dir + "/data.txt";
  std::ofstream(path) << "precious";
  Echo h;
  auto r = run(h, "unix://" + path, {.logger = null_logger()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "bind unix://" + path + ": path exists and is not a socket (refusing to delete it)");
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(Unix, LiveSocketAtThePathIsAnErrorAndKeepsServing) {
  std::string dir = temp_dir();
  std::string path = dir + "/live.sock";
  Echo h;
  ServerThread first(h, "unix://" + path);
  ASSERT_TRUE(first.ok());
  auto r = run(h, "unix://" + path, {.logger = null_logger()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::address_in_use);
  EXPECT_EQ(r.error().message(), "bind unix://" + path + ": a live server is listening on this socket");
  int fd = connect_unix(path, SOCK_STREAM);
  send_all(fd, "still here");
  EXPECT_EQ(recv_exact(fd, 10), "still here");
  close_fd(fd);
  ASSERT_TRUE(first.stop());
  ::rmdir(dir.c_str());
}

TEST(Unix, AbstractNamespace) {
  std::string name = "@gnet-test-" + std::to_string(::getpid());
  Echo h;
  ServerThread server(h, "unix://" + name);
  ASSERT_TRUE(server.ok());
  int fd = connect_unix(name, SOCK_STREAM);
  send_all(fd, "abstract");
  EXPECT_EQ(recv_exact(fd, 8), "abstract");
  close_fd(fd);
}

TEST(Unix, SeqpacketKeepsMessageBoundaries) {
  std::string dir = temp_dir();
  std::string path = dir + "/packet.sock";
  struct Boundaries : EventHandler {
    std::atomic<int> calls{0};
    Action on_traffic(Conn& c) override {
      ++calls;
      EXPECT_EQ(c.network(), Network::unix_packet);
      std::string msg(c.next());
      // Reply with two writes: each must arrive as its own message.
      c.write("len=" + std::to_string(msg.size()));
      c.write(msg);
      return Action::none;
    }
  } h;
  ServerThread server(h, "unixpacket://" + path);
  ASSERT_TRUE(server.ok());
  int fd = connect_unix(path, SOCK_SEQPACKET);
  std::mt19937_64 rng(3);
  std::vector<std::string> sent;
  for (int i = 0; i < 1000; ++i) sent.push_back(random_bytes(1 + rng() % 60000, static_cast<std::uint64_t>(i)));
  std::thread writer([&] {
    for (auto& m : sent) ASSERT_EQ(::send(fd, m.data(), m.size(), MSG_NOSIGNAL), static_cast<ssize_t>(m.size()));
  });
  std::string buf(70000, '\0');
  for (int i = 0; i < 1000; ++i) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    ASSERT_EQ(std::string(buf.data(), static_cast<std::size_t>(n)), "len=" + std::to_string(sent[static_cast<std::size_t>(i)].size()));
    n = ::recv(fd, buf.data(), buf.size(), 0);
    ASSERT_EQ(n, static_cast<ssize_t>(sent[static_cast<std::size_t>(i)].size()));
    ASSERT_EQ(std::memcmp(buf.data(), sent[static_cast<std::size_t>(i)].data(), static_cast<std::size_t>(n)), 0);
  }
  writer.join();
  EXPECT_EQ(h.calls, 1000) << "one on_traffic per message";
  close_fd(fd);
  ASSERT_TRUE(server.stop());
  ::rmdir(dir.c_str());
}
