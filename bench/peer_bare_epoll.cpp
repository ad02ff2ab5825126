// peer_bare_epoll — the "no abstraction" reference echo server: a hand-written level-triggered
// epoll loop on one thread. Per readiness: one read into one shared 64 KiB buffer, written
// straight back. Only bytes the kernel refuses are queued (per connection); then the connection
// waits for EPOLLOUT instead of EPOLLIN until the queue is flushed (back-pressure), which is
// the only time epoll_ctl is called after accept.
#include "peer_common.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Conn {
  std::string pending;  // unsent bytes (empty on the fast path)
  std::size_t off = 0;
};

char g_buf[64 * 1024];

}  // namespace

int main(int argc, char** argv) {
  const int port = bench::parse_port(argc, argv);
  bench::raise_nofile();
  std::signal(SIGPIPE, SIG_IGN);

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<std::uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || ::listen(lfd, bench::kBacklog) != 0) {
    std::perror("peer_bare_epoll: bind/listen");
    return 1;
  }
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  bench::announce("peer_bare_epoll", port);

  std::vector<Conn> conns;  // indexed by fd
  auto set_interest = [ep](int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  };
  auto close_conn = [&conns](int fd) {
    conns[static_cast<std::size_t>(fd)] = Conn{};
    ::close(fd);  // also leaves the epoll set
  };

  epoll_event evs[1024];
  for (;;) {
    int n = ::epoll_wait(ep, evs, 1024, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("peer_bare_epoll: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) std::perror("peer_bare_epoll: accept4");
            break;
          }
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (conns.size() <= static_cast<std::size_t>(c)) conns.resize(static_cast<std::size_t>(c) + 1024);
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      Conn& conn = conns[static_cast<std::size_t>(fd)];
      if (!conn.pending.empty()) {  // waiting for EPOLLOUT: flush the queue
        ssize_t w = ::write(fd, conn.pending.data() + conn.off, conn.pending.size() - conn.off);
        if (w < 0) {
          if (errno != EAGAIN) close_conn(fd);
          continue;
        }
        conn.off += static_cast<std::size_t>(w);
        if (conn.off == conn.pending.size()) {
          conn.pending.clear();
          conn.off = 0;
          set_interest(fd, EPOLLIN);
        }
        continue;
      }
      ssize_t r = ::read(fd, g_buf, sizeof g_buf);
      if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) close_conn(fd);
        continue;
      }
      ssize_t w = ::write(fd, g_buf, static_cast<std::size_t>(r));
      if (w < 0) {
        if (errno != EAGAIN) {
          close_conn(fd);
          continue;
        }
        w = 0;
      }
      if (w < r) {
        conn.pending.assign(g_buf + w, static_cast<std::size_t>(r - w));
        conn.off = 0;
        set_interest(fd, EPOLLOUT);
      }
    }
  }
}
