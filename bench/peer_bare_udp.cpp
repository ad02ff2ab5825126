// peer_bare_udp — the "no abstraction" reference UDP echo: one unconnected socket, a
// level-triggered epoll loop on one thread. Default: per readiness, up to 64 datagrams, each
// one recvfrom into a static 64 KiB buffer and one sendto straight back (what a plain socket
// program does). --mmsg: the same with recvmmsg/sendmmsg, 32 datagrams per call (the batching
// gnet-cpp does, without a library around it). A reply the kernel refuses (EAGAIN) is dropped,
// as UDP does.
//
//   peer_bare_udp --port P [--mmsg]
#include "peer_common.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kSlot = 64 * 1024;
constexpr int kBatch = 32;

char g_buf[kSlot];

void echo_single(int fd) {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fd, g_buf, sizeof g_buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return;  // EAGAIN: drained
    ::sendto(fd, g_buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

void echo_mmsg(int fd, std::vector<char>& area) {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage from[kBatch];
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {area.data() + static_cast<std::size_t>(i) * kSlot, kSlot};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(fd, msgs, kBatch, 0, nullptr);
    if (n <= 0) return;
    for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;  // echo what came, to whom it came from
    int sent = 0;
    while (sent < n) {
      int k = ::sendmmsg(fd, msgs + sent, static_cast<unsigned>(n - sent), 0);
      if (k < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;  // full: the rest is dropped
        ++sent;                      // that datagram's own error: skip it
        continue;
      }
      sent += k;
    }
    if (n < kBatch) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool mmsg = false;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mmsg") == 0) {
      mmsg = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  const int port = bench::parse_port(static_cast<int>(rest.size()), rest.data());

  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // Socket buffers stay at the kernel's defaults, as in gnet-cpp's example and Go gnet's.
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<std::uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    std::perror("peer_bare_udp: bind");
    return 1;
  }
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  std::printf("peer_bare_udp%s: echo on udp 127.0.0.1:%d\n", mmsg ? " --mmsg" : "", port);
  std::fflush(stdout);

  std::vector<char> area(mmsg ? kSlot * kBatch : 0);
  epoll_event evs[8];
  for (;;) {
    int n = ::epoll_wait(ep, evs, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("peer_bare_udp: epoll_wait");
      return 1;
    }
    if (mmsg) {
      echo_mmsg(fd, area);
    } else {
      echo_single(fd);
    }
  }
}
