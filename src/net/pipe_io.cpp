#include "net/pipe_io.hpp"

#include <pthread.h>
#include <signal.h>
#include <time.h>

namespace gnet::detail {

IoResult pipe_writev(int fd, const iovec* iov, int count) noexcept {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  // A SIGPIPE already pending for another reason stays the caller's business.
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  IoResult r = sys_io([&] { return ::writev(fd, iov, count); });
  if (r.error == EPIPE && !was_pending) {
    timespec none{};
    while (sigtimedwait(&pipe_only, nullptr, &none) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return r;
}

}  // namespace gnet::detail
