// Inherited listeners: socket activation (LISTEN_FDS) and the hand-over between two processes
// (SCM_RIGHTS over a Unix SEQPACKET socket). See gnet/upgrade.hpp and engine/upgrade.hpp.
#include "engine/upgrade.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "net/socket.hpp"

namespace gnet {
namespace {

constexpr std::string_view kVersion = "gnet-handover/1";
constexpr std::size_t kMaxMessage = 4096;

std::string describe(int fd, const InheritedListener* l = nullptr) {
  std::string s = "inherited descriptor " + std::to_string(fd);
  if (l != nullptr) {
    static constexpr const char* kNames[] = {"tcp", "udp", "unix", "unixpacket", "pipe"};
    s += " (" + std::string(kNames[static_cast<int>(l->network)]) + " " + l->address.to_string();
    if (!l->name.empty()) s += ", \"" + l->name + "\"";
    s += ")";
  }
  return s;
}

// What kind of listening socket fd is; Errc::bad_listener when it is none.
Result<InheritedListener> inspect(int fd) {
  InheritedListener out;
  out.fd = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return system_error(errno, describe(fd));
  if (!S_ISSOCK(st.st_mode)) return Error(Errc::bad_listener, describe(fd) + " is not a socket");
  int domain = 0, type = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return system_error(errno, describe(fd));
  len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return system_error(errno, describe(fd));
  if (domain == AF_INET || domain == AF_INET6) {
    if (type == SOCK_STREAM) out.network = Network::tcp;
    else if (type == SOCK_DGRAM) out.network = Network::udp;
    else return Error(Errc::bad_listener, describe(fd) + " is an IP socket of an unsupported type");
  } else if (domain == AF_UNIX) {
    if (type == SOCK_STREAM) out.network = Network::unix_stream;
    else if (type == SOCK_SEQPACKET) out.network = Network::unix_packet;
    else return Error(Errc::bad_listener, describe(fd) + " is a Unix datagram socket (not supported)");
  } else {
    return Error(Errc::bad_listener, describe(fd) + " is a socket of an unsupported family");
  }
  sockaddr_storage ss{};
  socklen_t slen = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &slen) == 0) {
    out.address = SocketAddress(reinterpret_cast<sockaddr*>(&ss), slen);
  }
  if (out.network != Network::udp) {
    int listening = 0;
    len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
      return Error(Errc::bad_listener, describe(fd, &out) + " is not listening");
    }
  } else if (out.address.port() == 0) {
    return Error(Errc::bad_listener, describe(fd, &out) + " is not bound");
  }
  return out;
}

// Splits on ' ' up to `parts` fields; the last takes the rest.
std::vector<std::string_view> split(std::string_view s, std::size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    auto sp = s.find(' ');
    if (sp == std::string_view::npos) break;
    out.push_back(s.substr(0, sp));
    s.remove_prefix(sp + 1);
  }
  out.push_back(s);
  return out;
}

template <class T>
bool parse_number(std::string_view s, T& value) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc{} && p == s.data() + s.size();
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

// Waits until fd is readable (or hung up), up to deadline. False on timeout.
bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return true;  // let the read report it
  }
}

Result<SocketAddress> unix_address(std::string_view path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof un.sun_path) {
    return Error(std::make_error_code(std::errc::filename_too_long),
                 "hand-over socket path \"" + std::string(path) + "\": empty or longer than " +
                     std::to_string(sizeof un.sun_path - 1) + " bytes");
  }
  std::memcpy(un.sun_path, path.data(), path.size());
  return SocketAddress(reinterpret_cast<sockaddr*>(&un),
                       static_cast<unsigned>(offsetof(sockaddr_un, sun_path) + path.size() + 1));
}

}  // namespace

// ---- InheritedListeners ----

InheritedListeners::InheritedListeners(InheritedListeners&& other) noexcept
    : listeners_(std::move(other.listeners_)), owns_path_(std::move(other.owns_path_)), channel_(other.channel_) {
  other.listeners_.clear();
  other.owns_path_.clear();
  other.channel_ = -1;
}

InheritedListeners& InheritedListeners::operator=(InheritedListeners&& other) noexcept {
  if (this != &other) {
    reset();
    listeners_ = std::move(other.listeners_);
    owns_path_ = std::move(other.owns_path_);
    channel_ = other.channel_;
    other.listeners_.clear();
    other.owns_path_.clear();
    other.channel_ = -1;
  }
  return *this;
}

InheritedListeners::~InheritedListeners() { reset(); }

void InheritedListeners::reset() noexcept {
  for (InheritedListener& l : listeners_) {
    if (l.fd >= 0) ::close(l.fd);
  }
  listeners_.clear();
  owns_path_.clear();
  if (channel_ >= 0) ::close(channel_);
  channel_ = -1;
}

Result<void> InheritedListeners::add(int fd, std::string name) {
  auto inspected = inspect(fd);
  if (!inspected) {
    ::close(fd);
    return inspected.error();
  }
  inspected->name = std::move(name);
  inspected->listener = listeners_.size();
  listeners_.push_back(std::move(inspected.value()));
  owns_path_.push_back(false);
  return {};
}

// ---- systemd socket activation ----

Result<InheritedListeners> listen_fds_from_systemd() {
  InheritedListeners out;
  const char* pid_text = std::getenv("LISTEN_PID");
  const char* fds_text = std::getenv("LISTEN_FDS");
  const char* names_text = std::getenv("LISTEN_FDNAMES");
  std::string names = names_text != nullptr ? names_text : "";
  long pid = 0;
  int count = 0;
  bool ours = pid_text != nullptr && fds_text != nullptr && parse_number(std::string_view(pid_text), pid) &&
              pid == static_cast<long>(::getpid());
  if (ours && !parse_number(std::string_view(fds_text), count)) {
    return Error(Errc::bad_listener, "LISTEN_FDS=\"" + std::string(fds_text) + "\" is not a number");
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!ours || count <= 0) return out;

  constexpr int kFirst = 3;  // SD_LISTEN_FDS_START
  std::vector<std::string> split_names;
  for (std::size_t start = 0; start <= names.size() && !names.empty();) {
    auto colon = names.find(':', start);
    if (colon == std::string::npos) colon = names.size();
    split_names.push_back(names.substr(start, colon - start));
    start = colon + 1;
  }
  Error first;
  for (int i = 0; i < count; ++i) {
    const int fd = kFirst + i;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    std::string name = static_cast<std::size_t>(i) < split_names.size() ? split_names[static_cast<std::size_t>(i)] : "";
    if (auto r = out.add(fd, std::move(name)); !r && !first) {
      first = Error(r.error().code(), "LISTEN_FDS: " + r.error().message());
    }
  }
  if (first) return first;  // the others close with `out`
  return out;
}

// ---- hand-over: receiving side ----

Result<InheritedListeners> receive_listeners(std::string_view path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto sa = unix_address(path);
  if (!sa) return sa.error();
  const std::string where = "receive listeners from " + std::string(path);

  int fd = -1;
  for (;;) {
    fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return system_error(errno, where);
    if (::connect(fd, sa->data(), sa->size()) == 0) break;
    int err = errno;
    ::close(fd);
    fd = -1;
    // Not there yet (the predecessor creates it), or nobody listening yet: try again shortly.
    if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN && err != EINTR) return system_error(err, where);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(Errc::timed_out, where + ": nobody offered listeners within " +
                                        std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  InheritedListeners out;
  auto fail = [&](Error e) -> Result<InheritedListeners> {
    ::close(fd);
    return e;
  };
  for (;;) {
    if (!wait_readable(fd, deadline)) {
      return fail(Error(Errc::timed_out, where + ": the sender went quiet"));
    }
    char data[kMaxMessage];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(system_error(errno, where));
    int received = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        std::size_t fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t k = 0; k < fds; ++k) {
          int got;
          std::memcpy(&got, CMSG_DATA(c) + k * sizeof(int), sizeof got);
          if (received < 0) received = got;
          else ::close(got);  // one per message; extras are not ours to keep
        }
      }
    }
    if (n == 0) {
      if (received >= 0) ::close(received);
      return fail(Error(Errc::handover_failed, where + ": the sender hung up before sending everything"));
    }
    std::string_view text(data, static_cast<std::size_t>(n));
    auto fields = split(text, 5);
    if (fields.size() < 2 || fields[0] != kVersion) {
      if (received >= 0) ::close(received);
      return fail(Error(Errc::handover_failed, where + ": not a gnet hand-over (\"" +
                                                   std::string(text.substr(0, 40)) + "\")"));
    }
    if (fields[1] == "E") {
      std::size_t count = 0;
      if (fields.size() != 3 || !parse_number(fields[2], count) || count != out.size()) {
        if (received >= 0) ::close(received);
        return fail(Error(Errc::handover_failed, where + ": listener count does not add up"));
      }
      if (received >= 0) ::close(received);
      break;
    }
    std::size_t index = 0;
    if (fields[1] != "L" || fields.size() != 5 || !parse_number(fields[2], index) || received < 0) {
      if (received >= 0) ::close(received);
      return fail(Error(Errc::handover_failed, where + ": malformed message \"" +
                                                   std::string(text.substr(0, 60)) + "\""));
    }
    if (auto r = out.add(received, std::string(fields[4])); !r) return fail(r.error());
    InheritedAccess::listeners(out).back().listener = index;
    InheritedAccess::owns_path(out).back() = fields[3] == "1";
  }
  // The channel stays open: the engine that adopts the sockets says "R" on it.
  InheritedAccess::set_channel(out, fd);
  return out;
}

}  // namespace gnet

// ---- hand-over: sending side, and matching ----

namespace gnet::detail {

Result<void> send_listeners(std::string_view path, const std::vector<HandOverSocket>& sockets,
                            std::chrono::steady_clock::time_point deadline) {
  auto sa = unix_address(path);
  if (!sa) return sa.error();
  const std::string where = "hand over listeners on " + std::string(path);
  const std::string file(path);

  int server = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (server < 0) return system_error(errno, where);
  struct stat st {};
  if (::lstat(file.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(file.c_str());  // a stale one
  if (::bind(server, sa->data(), sa->size()) != 0 || ::listen(server, 4) != 0) {
    Error e = system_error(errno, where);
    ::close(server);
    return e;
  }
  int peer = -1;
  auto finish = [&](Error e) -> Result<void> {
    if (peer >= 0) ::close(peer);
    ::close(server);
    ::unlink(file.c_str());
    if (e) return e;
    return {};
  };

  // Wait for a successor of the same user (anyone else who can reach the path gets nothing).
  for (;;) {
    if (!wait_readable(server, deadline)) {
      return finish(Error(Errc::timed_out, where + ": no successor connected in time"));
    }
    peer = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
    if (peer < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return finish(system_error(errno, where + ": accept"));
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(peer, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == ::geteuid()) break;
    ::close(peer);
    peer = -1;
  }

  auto send_one = [&](const std::string& text, int fd) -> bool {
    iovec iov{const_cast<char*>(text.data()), text.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (fd >= 0) {
      std::memset(control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    for (;;) {
      ssize_t n = ::sendmsg(peer, &msg, MSG_NOSIGNAL);
      if (n >= 0) return true;
      if (errno != EINTR) return false;
    }
  };
  const std::string version(kVersion);
  for (const HandOverSocket& s : sockets) {
    std::string text = version + " L " + std::to_string(s.listener) + " " + (s.owns_path ? "1 " : "0 ") + s.name;
    if (text.size() > kMaxMessage) return finish(Error(Errc::handover_failed, where + ": address too long"));
    if (!send_one(text, s.fd)) return finish(system_error(errno, where + ": send"));
  }
  if (!send_one(version + " E " + std::to_string(sockets.size()), -1)) {
    return finish(system_error(errno, where + ": send"));
  }

  // The successor answers once its engine owns the sockets and is about to run.
  if (!wait_readable(peer, deadline)) {
    return finish(Error(Errc::timed_out, where + ": the successor took the sockets but did not start serving in time"));
  }
  char reply[16];
  ssize_t n;
  do n = ::recv(peer, reply, sizeof reply, 0);
  while (n < 0 && errno == EINTR);
  if (n != 1 || reply[0] != 'R') {
    return finish(Error(Errc::handover_failed, where + ": the successor gave up before serving (" +
                                                   (n < 0 ? std::string(std::strerror(errno)) : "closed") + ")"));
  }
  return finish(Error{});
}

void announce_serving(int channel) noexcept {
  if (channel < 0) return;
  ssize_t n;
  do n = ::send(channel, "R", 1, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  ::close(channel);
}

bool inherited_matches(const InheritedListener& inherited, const Address& address) {
  if (inherited.network != address.network) return false;
  const SocketAddress& bound = inherited.address;
  if (!address.is_ip()) {
    // Unix: the same path, or the same abstract name ("@name").
    std::string want = address.abstract ? "@" + address.path : address.path;
    return bound.to_string() == want;
  }
  if (address.port == 0 || bound.port() != address.port) return false;
  if (address.family == Family::ipv4 && bound.family() != AF_INET) return false;
  if (address.family == Family::ipv6 && bound.family() != AF_INET6) return false;
  // A wildcard matches a wildcard of either family: systemd's ListenStream=8080 binds "::"
  // (dual-stack) where a server may say 0.0.0.0.
  const bool bound_wild = bound.ip() == "0.0.0.0" || bound.ip() == "::";
  if (address.host.empty() || address.host == "0.0.0.0" || address.host == "::") return bound_wild;
  auto resolved = resolve(address, true);
  if (!resolved) return false;
  for (const SocketAddress& sa : *resolved) {
    if (sa.family() == bound.family() && sa.ip() == bound.ip()) return true;
  }
  return false;
}

}  // namespace gnet::detail
