// Serves one echo round trip over loopback through the installed library, then exits 0.
#include <gnet/gnet.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>

struct Echo : gnet::EventHandler {
  gnet::Engine* engine = nullptr;
  gnet::Action on_boot(gnet::Engine& e) override {
    engine = &e;
    std::uint16_t port = e.listen_addresses().front().port();
    std::thread([port, &e] {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      char buf[5] = {};
      if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 && ::send(fd, "hello", 5, 0) == 5) {
        std::size_t got = 0;
        while (got < 5) {
          ssize_t n = ::recv(fd, buf + got, 5 - got, 0);
          if (n <= 0) break;
          got += static_cast<std::size_t>(n);
        }
      }
      std::printf("consumer got: %.5s\n", buf);
      ::close(fd);
      e.stop();
    }).detach();
    return gnet::Action::none;
  }
  gnet::Action on_traffic(gnet::Conn& c) override {
    c.write(c.next());
    return gnet::Action::none;
  }
};

int main() {
  Echo echo;
  auto r = gnet::run(echo, "tcp://127.0.0.1:0");
  if (!r) {
    std::fprintf(stderr, "%s\n", r.error().message().c_str());
    return 1;
  }
  return 0;
}
