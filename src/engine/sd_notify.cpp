// gnet::sd_notify — systemd's notification datagram, without linking libsystemd (the core
// depends on libc only). The protocol is one datagram of "KEY=VALUE" lines to the socket named
// by $NOTIFY_SOCKET; see sd_notify(3) and systemd's NOTIFY_SOCKET documentation.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gnet/upgrade.hpp"

namespace gnet {

Result<bool> sd_notify(std::string_view state) {
  const char* where = std::getenv("NOTIFY_SOCKET");
  if (where == nullptr || where[0] == '\0') return false;
  const std::string name(where);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A path, or '@' for the abstract namespace (a leading NUL byte in sun_path).
  if (name[0] != '/' && name[0] != '@') {
    return Error(std::make_error_code(std::errc::invalid_argument),
                 "sd_notify: NOTIFY_SOCKET \"" + name + "\" is neither a path nor @abstract");
  }
  if (name.size() >= sizeof addr.sun_path) {
    return Error(std::make_error_code(std::errc::filename_too_long), "sd_notify: NOTIFY_SOCKET \"" + name + "\" is too long");
  }
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    const int err = errno;
    return Error(std::error_code(err, std::system_category()), std::string("sd_notify: socket: ") + std::strerror(err));
  }
  ssize_t n;
  do {
    n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n < 0) return Error(std::error_code(err, std::system_category()), "sd_notify to " + name + ": " + std::strerror(err));
  return true;
}

}  // namespace gnet
