// Internal: one place for the EINTR / EAGAIN / error ladder that every non-blocking socket call
// needs. sys_io(call) retries EINTR and folds the rest into {n, would_block, error}.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <system_error>

namespace gnet::detail {

struct IoResult {
  ssize_t n = 0;             // bytes moved (>= 0) when neither would_block nor error
  bool would_block = false;  // EAGAIN / EWOULDBLOCK: try again on readiness
  int error = 0;             // errno of a real failure, else 0

  bool ok() const noexcept { return !would_block && error == 0; }
  std::error_code code() const noexcept { return {error, std::system_category()}; }
};

// call() is a socket call returning ssize_t with errno set on -1 (read, recv, sendmsg, ...).
template <class Call>
inline IoResult sys_io(Call&& call) noexcept {
  for (;;) {
    ssize_t n = call();
    if (n >= 0) return {n, false, 0};
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return {0, true, 0};
    return {-1, false, err};
  }
}

}  // namespace gnet::detail
