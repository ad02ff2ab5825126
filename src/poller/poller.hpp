// Internal: the small contract every readiness backend implements (epoll.cpp today; kqueue.cpp
// on the BSDs), used by io/readiness_driver.cpp. One poller is compiled in. The driver above it
// only sees "this token is readable/writable/hung up".
#pragma once

#include <cstdint>
#include <system_error>

#include "gnet/error.hpp"

namespace gnet::detail {

// Interest and readiness bits (the backend maps them to its own).
enum : std::uint32_t {
  kReadable = 1u << 0,
  kWritable = 1u << 1,
  kHangup = 1u << 2,  // peer closed or socket error: the next read/write says which
  kEdge = 1u << 3,    // interest only: edge-triggered
  kPeerShut = 1u << 4,  // the peer shut its write side (EPOLLRDHUP): its end is among the bytes
};

struct PollEvent {
  void* token;
  std::uint32_t events;
};

class Poller {
 public:
  static constexpr int kMaxEvents = 256;

  static Result<Poller*> create();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  std::error_code add(int fd, void* token, std::uint32_t interest) noexcept;
  std::error_code modify(int fd, void* token, std::uint32_t interest) noexcept;
  std::error_code remove(int fd) noexcept;
  // Waits up to timeout_ms (-1 = forever); fills out[0..n) and returns n (0 on timeout/EINTR).
  int wait(PollEvent* out, int max, int timeout_ms) noexcept;

 private:
  explicit Poller(int fd) noexcept : fd_(fd) {}
  int fd_;
};

}  // namespace gnet::detail
