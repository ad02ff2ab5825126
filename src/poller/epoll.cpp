// The Linux backend of poller.hpp.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "poller/poller.hpp"

namespace gnet::detail {
namespace {

std::uint32_t to_epoll(std::uint32_t interest) noexcept {
  std::uint32_t ev = 0;
  if (interest & kReadable) ev |= EPOLLIN;
  if (interest & kWritable) ev |= EPOLLOUT;
  if (interest & kEdge) ev |= EPOLLET;
  if (interest & kPeerShut) ev |= EPOLLRDHUP;
  return ev;
}

std::error_code ctl(int epfd, int op, int fd, void* token, std::uint32_t interest) noexcept {
  epoll_event ev{};
  ev.events = to_epoll(interest);
  ev.data.ptr = token;
  if (::epoll_ctl(epfd, op, fd, &ev) != 0) return {errno, std::system_category()};
  return {};
}

}  // namespace

Result<Poller*> Poller::create() {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return system_error(errno, "epoll_create1");
  return new Poller(fd);
}

Poller::~Poller() { ::close(fd_); }

std::error_code Poller::add(int fd, void* token, std::uint32_t interest) noexcept {
  return ctl(fd_, EPOLL_CTL_ADD, fd, token, interest);
}

std::error_code Poller::modify(int fd, void* token, std::uint32_t interest) noexcept {
  return ctl(fd_, EPOLL_CTL_MOD, fd, token, interest);
}

std::error_code Poller::remove(int fd) noexcept {
  epoll_event ev{};
  if (::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, &ev) != 0) return {errno, std::system_category()};
  return {};
}

int Poller::wait(PollEvent* out, int max, int timeout_ms) noexcept {
  epoll_event events[kMaxEvents];
  if (max > kMaxEvents) max = kMaxEvents;
  int n = ::epoll_wait(fd_, events, max, timeout_ms);
  if (n < 0) return 0;  // EINTR: the loop just turns again
  for (int i = 0; i < n; ++i) {
    std::uint32_t e = events[i].events;
    std::uint32_t r = 0;
    if (e & (EPOLLIN | EPOLLPRI)) r |= kReadable;
    if (e & EPOLLOUT) r |= kWritable;
    if (e & (EPOLLHUP | EPOLLERR)) r |= kHangup;
    if (e & EPOLLRDHUP) r |= kPeerShut;
    out[i] = PollEvent{events[i].data.ptr, r};
  }
  return n;
}

}  // namespace gnet::detail
