// Internal: writing to a pipe, a FIFO or a terminal from a loop thread. send(MSG_NOSIGNAL) keeps
// a socket's vanished reader from raising SIGPIPE, which would kill the process; write(2) has no
// such flag, so SIGPIPE is blocked on this thread for the call and the one it raised, if any,
// is taken back before the mask is restored. EPIPE then reaches on_close like any socket error.
#pragma once

#include <sys/uio.h>

#include "net/sys_io.hpp"

namespace gnet::detail {

IoResult pipe_writev(int fd, const iovec* iov, int count) noexcept;

}  // namespace gnet::detail
