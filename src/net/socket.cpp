// Internal: listener sockets, Unix socket files, socket options.
#include "net/socket.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gnet::detail {
namespace {


// A socket file already at the path: remove it only when it is a socket nobody listens on.
Result<void> clear_stale_unix_path(const Address& addr, const std::string& url) {
  struct stat st {};
  if (::lstat(addr.path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return system_error(errno, "stat " + url);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error(std::make_error_code(std::errc::file_exists),
                 "bind " + url + ": path exists and is not a socket (refusing to delete it)");
  }
  int probe = ::socket(AF_UNIX, socket_type(addr.network) | SOCK_CLOEXEC, 0);
  if (probe < 0) return system_error(errno, "socket " + url);
  SocketAddress sa = unix_socket_address(addr);
  int rc = ::connect(probe, sa.data(), sa.size());
  int err = errno;
  ::close(probe);
  if (rc == 0 || err == EAGAIN) {
    return Error(std::make_error_code(std::errc::address_in_use),
                 "bind " + url + ": a live server is listening on this socket");
  }
  if (err != ECONNREFUSED && err != EPROTOTYPE) return system_error(err, "probe " + url);
  if (::unlink(addr.path.c_str()) != 0 && errno != ENOENT) {
    return system_error(errno, "remove stale socket " + url);
  }
  return {};
}

bool is_multicast(const SocketAddress& sa) {
  if (sa.family() == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa.data());
    return IN_MULTICAST(ntohl(in->sin_addr.s_addr));
  }
  if (sa.family() == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa.data());
    return IN6_IS_ADDR_MULTICAST(&in6->sin6_addr);
  }
  return false;
}

// Joins the multicast group the socket is bound to, on Options::multicast_interface (a name such
// as "lo" or a number; empty lets the kernel choose).
Result<void> join_group(int fd, const SocketAddress& group, const std::string& iface, const std::string& url) {
  unsigned index = 0;
  if (!iface.empty()) {
    index = ::if_nametoindex(iface.c_str());
    if (index == 0 && !iface.empty() && iface.find_first_not_of("0123456789") == std::string::npos) {
      index = static_cast<unsigned>(std::stoul(iface));
    }
    if (index == 0) return system_error(errno != 0 ? errno : ENODEV, "multicast interface \"" + iface + "\" for " + url);
  }
  if (group.family() == AF_INET) {
    ip_mreqn req{};
    req.imr_multiaddr = reinterpret_cast<const sockaddr_in*>(group.data())->sin_addr;
    req.imr_ifindex = static_cast<int>(index);
    if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &req, sizeof req) != 0) {
      return system_error(errno, "join multicast group " + url);
    }
    return {};
  }
  ipv6_mreq req{};
  req.ipv6mr_multiaddr = reinterpret_cast<const sockaddr_in6*>(group.data())->sin6_addr;
  req.ipv6mr_interface = index;
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &req, sizeof req) != 0) {
    return system_error(errno, "join multicast group " + url);
  }
  return {};
}

}  // namespace

int socket_type(Network network) {
  switch (network) {
    case Network::tcp:
    case Network::unix_stream:
    case Network::pipe: return SOCK_STREAM;
    case Network::udp: return SOCK_DGRAM;
    case Network::unix_packet: return SOCK_SEQPACKET;
  }
  return SOCK_STREAM;
}

std::error_code set_socket_option(int fd, int level, int name, int value) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
    return {errno, std::system_category()};
  }
  return {};
}

std::error_code set_keep_alive(int fd, int idle_seconds, int interval_seconds, int count) {
  if (idle_seconds <= 0) return set_socket_option(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
  if (interval_seconds <= 0) interval_seconds = idle_seconds;
  if (count <= 0) count = kDefaultKeepAliveCount;
  if (auto ec = set_socket_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1)) return ec;
  if (auto ec = set_socket_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_seconds)) return ec;
  if (auto ec = set_socket_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval_seconds)) return ec;
  return set_socket_option(fd, IPPROTO_TCP, TCP_KEEPCNT, count);
}

Result<std::vector<SocketAddress>> resolve(const Address& addr, bool passive) {
  std::vector<SocketAddress> out;
  if (addr.host.empty()) {
    if (addr.family != Family::ipv4) {
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(addr.port);
      sa.sin6_addr = passive ? in6addr_any : in6addr_loopback;
      out.emplace_back(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    if (addr.family != Family::ipv6) {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(addr.port);
      sa.sin_addr.s_addr = htonl(passive ? INADDR_ANY : INADDR_LOOPBACK);
      out.emplace_back(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    return out;
  }
  addrinfo hints{};
  hints.ai_family = addr.family == Family::ipv4 ? AF_INET : addr.family == Family::ipv6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = socket_type(addr.network);
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* list = nullptr;
  std::string port = std::to_string(addr.port);
  int rc = ::getaddrinfo(addr.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    return Error(Errc::bad_address, "resolve " + addr.to_string() + ": " + ::gai_strerror(rc));
  }
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    out.emplace_back(ai->ai_addr, static_cast<unsigned>(ai->ai_addrlen));
  }
  ::freeaddrinfo(list);
  if (out.empty()) return Error(Errc::bad_address, "resolve " + addr.to_string() + ": no addresses");
  return out;
}

SocketAddress unix_socket_address(const Address& addr) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::size_t offset = addr.abstract ? 1 : 0;
  std::memcpy(un.sun_path + offset, addr.path.data(), addr.path.size());
  auto len = static_cast<unsigned>(offsetof(sockaddr_un, sun_path) + offset + addr.path.size() +
                                   (addr.abstract ? 0 : 1));
  return SocketAddress(reinterpret_cast<sockaddr*>(&un), len);
}

Result<ListenSocket> open_listener(const Address& addr, const Options& options, bool reuse_port) {
  const std::string url = addr.to_string();
  std::vector<SocketAddress> candidates;
  if (addr.is_ip()) {
    auto resolved = resolve(addr, true);
    if (!resolved) return resolved.error();
    candidates = std::move(resolved.value());
  } else {
    if (!addr.abstract) {
      if (auto cleared = clear_stale_unix_path(addr, url); !cleared) return cleared.error();
    }
    candidates.push_back(unix_socket_address(addr));
  }

  Error last;
  for (const SocketAddress& sa : candidates) {
    int fd = ::socket(sa.family(), socket_type(addr.network) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = system_error(errno, "socket " + url);
      continue;
    }
    auto fail = [&](const char* op) {
      last = system_error(errno, std::string(op) + " " + url);
      ::close(fd);
    };
    if (addr.is_ip()) {
      if (options.reuse_addr) set_socket_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
      if (reuse_port && set_socket_option(fd, SOL_SOCKET, SO_REUSEPORT, 1)) {
        fail("setsockopt SO_REUSEPORT");
        continue;
      }
      if (!options.bind_to_device.empty() &&
          ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, options.bind_to_device.data(),
                       static_cast<socklen_t>(options.bind_to_device.size())) != 0) {
        fail(("setsockopt SO_BINDTODEVICE \"" + options.bind_to_device + "\" for").c_str());
        continue;
      }
      if (sa.family() == AF_INET6) {
        // A wildcard on Family::any serves IPv4 too; an explicit tcp6:// stays IPv6-only.
        set_socket_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, addr.family == Family::ipv6 ? 1 : 0);
      }
      if (addr.network == Network::udp) {
        if (options.socket_recv_buffer > 0) set_socket_option(fd, SOL_SOCKET, SO_RCVBUF, options.socket_recv_buffer);
        if (options.socket_send_buffer > 0) set_socket_option(fd, SOL_SOCKET, SO_SNDBUF, options.socket_send_buffer);
      }
    }
    if (::bind(fd, sa.data(), sa.size()) != 0) {
      fail("bind");
      continue;
    }
    if (addr.network == Network::udp && is_multicast(sa)) {
      if (auto joined = join_group(fd, sa, options.multicast_interface, url); !joined) {
        last = joined.error();
        ::close(fd);
        continue;
      }
    }
    if (addr.is_stream() || addr.network == Network::unix_packet) {
      if (::listen(fd, options.backlog) != 0) {
        fail("listen");
        continue;
      }
    }
    ListenSocket out;
    out.fd = fd;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      out.bound = SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
    }
    if (!addr.is_ip() && !addr.abstract) {
      out.unix_path = addr.path;
      if (options.unix_mode != 0 && ::chmod(addr.path.c_str(), options.unix_mode) != 0) {
        last = system_error(errno, "chmod " + url);
        close_listener(out);
        return last;
      }
    }
    return out;
  }
  return last;
}

void close_listener(ListenSocket& listener) {
  if (listener.fd >= 0) ::close(listener.fd);
  listener.fd = -1;
  if (!listener.unix_path.empty()) ::unlink(listener.unix_path.c_str());
  listener.unix_path.clear();
}

void apply_connection_options(int fd, bool is_tcp, const Options& options) {
  if (is_tcp) {
    if (options.tcp_no_delay) set_socket_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (options.tcp_keepalive.count() > 0) {
      set_keep_alive(fd, static_cast<int>(options.tcp_keepalive.count()),
                     static_cast<int>(options.tcp_keepalive_interval.count()), options.tcp_keepalive_count);
    }
  }
  if (options.socket_recv_buffer > 0) set_socket_option(fd, SOL_SOCKET, SO_RCVBUF, options.socket_recv_buffer);
  if (options.socket_send_buffer > 0) set_socket_option(fd, SOL_SOCKET, SO_SNDBUF, options.socket_send_buffer);
}

}  // namespace gnet::detail
