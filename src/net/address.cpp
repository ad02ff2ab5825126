// Address-string parsing and SocketAddress formatting. Parsing does no I/O; resolution of host
// names happens in net/socket.cpp at setup time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>

#include "gnet/address.hpp"

namespace gnet {
namespace {

constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;

Error bad(std::string_view text, const std::string& why) {
  return Error(Errc::bad_address, "bad address \"" + std::string(text) + "\": " + why);
}

bool is_ipv4_literal(const std::string& host) {
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1;
}
bool is_ipv6_literal(const std::string& host) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

bool is_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char ch : host) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_';
    if (!ok) return false;
  }
  return true;
}

// The query after '?': "key=value" pairs joined by '&'. Known keys only, so a typo is an error
// at setup rather than an option silently not applied.
Result<void> parse_query(std::string_view text, std::string_view query, Address& addr) {
  for (bool more = true; more;) {  // every pair, the empty one after a trailing '&' included
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    more = amp != std::string_view::npos;
    if (more) query = query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (key == "proxy_protocol") {
      if (eq == std::string_view::npos) return bad(text, "proxy_protocol needs a value (proxy_protocol=1)");
      if (value == "1" || value == "true") {
        addr.proxy_protocol = true;
      } else if (value == "0" || value == "false") {
        addr.proxy_protocol = false;
      } else {
        return bad(text, "proxy_protocol=" + std::string(value) + ": expected 1, 0, true or false");
      }
      continue;
    }
    return bad(text, "unknown query key \"" + std::string(key) + "\" (known: proxy_protocol)");
  }
  if (addr.proxy_protocol && !addr.is_stream()) {
    return bad(text, "proxy_protocol applies to stream listeners (tcp, tls, unix) only: load balancers send "
                     "no PROXY header over datagram or seqpacket sockets");
  }
  return {};
}

}  // namespace

Result<Address> parse_address(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    return bad(text, "missing scheme (expected tcp://, tcp4://, tcp6://, tls://, tls4://, tls6://, udp://, "
                     "udp4://, udp6://, unix:// or unixpacket://)");
  }
  std::string_view scheme = text.substr(0, sep);
  std::string_view rest = text.substr(sep + 3);
  Address addr;
  if (scheme == "tcp" || scheme == "tcp4" || scheme == "tcp6") {
    addr.network = Network::tcp;
  } else if (scheme == "tls" || scheme == "tls4" || scheme == "tls6") {
    addr.network = Network::tcp;
    addr.tls = true;
  } else if (scheme == "udp" || scheme == "udp4" || scheme == "udp6") {
    addr.network = Network::udp;
  } else if (scheme == "unix") {
    addr.network = Network::unix_stream;
  } else if (scheme == "unixpacket") {
    addr.network = Network::unix_packet;
  } else {
    return bad(text, "unknown scheme \"" + std::string(scheme) + "\"");
  }
  if (scheme.ends_with('4')) addr.family = Family::ipv4;
  if (scheme.ends_with('6')) addr.family = Family::ipv6;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    if (auto r = parse_query(text, rest.substr(q + 1), addr); !r) return r.error();
    rest = rest.substr(0, q);
  }

  if (!addr.is_ip()) {
    if (rest.empty()) return bad(text, "empty socket path");
    if (rest.front() == '@') {
      addr.abstract = true;
      rest.remove_prefix(1);
      if (rest.empty()) return bad(text, "empty abstract socket name");
    }
    if (rest.size() > kMaxUnixPath) {
      return bad(text, "socket path too long (" + std::to_string(rest.size()) + " bytes, max " +
                           std::to_string(kMaxUnixPath) + ")");
    }
    if (rest.find('\0') != std::string_view::npos) return bad(text, "socket path contains NUL");
    addr.path = std::string(rest);
    return addr;
  }

  if (rest.empty()) return bad(text, "missing host:port");
  std::string_view host, port;
  if (rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return bad(text, "unterminated '[' in IPv6 literal");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (after.empty() || after.front() != ':') return bad(text, "missing :port after IPv6 literal");
    port = after.substr(1);
    if (!is_ipv6_literal(std::string(host))) {
      return bad(text, "\"" + std::string(host) + "\" is not an IPv6 address");
    }
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad(text, "missing :port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad(text, "IPv6 literals need brackets, e.g. tcp://[::1]:9000");
    }
  }
  if (port.empty()) return bad(text, "missing port number");
  if (port.find('/') != std::string_view::npos) return bad(text, "unexpected path after port");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && value > 65535)) {
    return bad(text, "port out of range (0-65535)");
  }
  if (ec != std::errc() || end != port.data() + port.size()) {
    return bad(text, "port \"" + std::string(port) + "\" is not a number");
  }
  addr.port = static_cast<std::uint16_t>(value);
  addr.host = std::string(host);
  if (!addr.host.empty()) {
    bool v4 = is_ipv4_literal(addr.host);
    bool v6 = !v4 && is_ipv6_literal(addr.host);
    if (!v4 && !v6 && !is_hostname(addr.host)) {
      return bad(text, "\"" + addr.host + "\" is neither an IP address nor a host name");
    }
    if (v6 && addr.family == Family::ipv4) return bad(text, "IPv6 address given to an IPv4-only scheme");
    if (v4 && addr.family == Family::ipv6) return bad(text, "IPv4 address given to an IPv6-only scheme");
  }
  return addr;
}

std::string Address::to_string() const {
  std::string scheme;
  switch (network) {
    case Network::tcp: scheme = tls ? "tls" : "tcp"; break;
    case Network::udp: scheme = "udp"; break;
    case Network::unix_stream: scheme = "unix"; break;
    case Network::unix_packet: scheme = "unixpacket"; break;
    case Network::pipe: scheme = "pipe"; break;
  }
  const char* query = proxy_protocol ? "?proxy_protocol=1" : "";
  if (!is_ip()) return scheme + "://" + (abstract ? "@" : "") + path + query;
  if (family == Family::ipv4) scheme += '4';
  if (family == Family::ipv6) scheme += '6';
  bool bracket = host.find(':') != std::string::npos;
  std::string out = scheme + "://";
  if (bracket) {
    out.append(1, '[').append(host).append(1, ']');
  } else {
    out.append(host);
  }
  return out.append(1, ':').append(std::to_string(port)).append(query);
}

SocketAddress::SocketAddress() noexcept { std::memset(storage_, 0, sizeof storage_); }

SocketAddress::SocketAddress(const sockaddr* sa, unsigned len) noexcept : SocketAddress() {
  if (sa == nullptr || len > sizeof storage_) return;
  std::memcpy(storage_, sa, len);
  len_ = len;
}

const sockaddr* SocketAddress::data() const noexcept {
  return reinterpret_cast<const sockaddr*>(storage_);
}

int SocketAddress::family() const noexcept { return len_ == 0 ? AF_UNSPEC : data()->sa_family; }

std::uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_port);
  return 0;
}

std::string SocketAddress::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(storage_)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::string SocketAddress::to_string() const {
  switch (family()) {
    case AF_INET: return ip() + ":" + std::to_string(port());
    case AF_INET6: {
      // Built by appending: GCC 12 reports a false -Wrestrict on "[" + std::string in Release.
      std::string out(1, '[');
      out.append(ip()).append("]:").append(std::to_string(port()));
      return out;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(storage_);
      std::size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
      if (n == 0) return "";
      if (un->sun_path[0] == '\0') return std::string(1, '@').append(un->sun_path + 1, n - 1);
      return std::string(un->sun_path, ::strnlen(un->sun_path, n));
    }
    default: return "";
  }
}

}  // namespace gnet
