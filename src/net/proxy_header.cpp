// PROXY protocol v1/v2: parsing (internal, net/proxy_header.hpp) and formatting
// (gnet/proxy_protocol.hpp). The parser is strict where the spec is strict (exact signature,
// single spaces, CRLF, address syntax), lenient only where it asks receivers to be (v1 UNKNOWN
// ignores the rest of its line; v2 TLVs are skipped unread).
#include "net/proxy_header.hpp"

#include "gnet/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace gnet::detail {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr char kV2SignatureBytes[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};
constexpr std::string_view kV2Signature(kV2SignatureBytes, sizeof kV2SignatureBytes);
constexpr std::size_t kV2FixedLength = 16;

ProxyHeader bad(const char* why) noexcept {
  ProxyHeader h;
  h.status = ProxyHeader::Status::bad;
  h.error = why;
  return h;
}

// True when `bytes` and `expected` agree on their common length (a prefix either way).
bool agrees(std::string_view bytes, std::string_view expected) noexcept {
  std::size_t n = bytes.size() < expected.size() ? bytes.size() : expected.size();
  return bytes.substr(0, n) == expected.substr(0, n);
}

// Pops the text up to the next single space (or the end) off `line`.
std::string_view take_word(std::string_view& line) noexcept {
  std::size_t space = line.find(' ');
  std::string_view word = line.substr(0, space);
  line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
  return word;
}

// A v1 port: decimal 0-65535, no sign, no leading zero.
bool parse_port(std::string_view text, std::uint16_t& port) noexcept {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned value = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    value = value * 10 + static_cast<unsigned>(ch - '0');
  }
  if (value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

SocketAddress ipv4(const void* addr, std::uint16_t port_host_order) noexcept {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  std::memcpy(&sa.sin_addr, addr, sizeof sa.sin_addr);
  sa.sin_port = htons(port_host_order);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

SocketAddress ipv6(const void* addr, std::uint16_t port_host_order) noexcept {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  std::memcpy(&sa.sin6_addr, addr, sizeof sa.sin6_addr);
  sa.sin6_port = htons(port_host_order);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

// One v1 address in the family `af`, into `out` (network byte order).
bool parse_ip(std::string_view text, int af, void* out) noexcept {
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return ::inet_pton(af, buf, out) == 1;
}

ProxyHeader parse_v1(std::string_view bytes) noexcept {
  if (!agrees(bytes, kV1Prefix)) return bad("not a PROXY header (v1 must start with \"PROXY \")");
  // Find the CRLF within the first kProxyV1MaxLength bytes; anything else on the way must be
  // printable ASCII, so garbage is refused at its first byte rather than after 107 of them.
  const std::size_t scan = bytes.size() < kProxyV1MaxLength ? bytes.size() : kProxyV1MaxLength;
  std::size_t end = 0;
  for (std::size_t i = 0; i < scan; ++i) {
    const char ch = bytes[i];
    if (ch == '\r') {
      if (i + 1 >= kProxyV1MaxLength) return bad("PROXY v1 header longer than 107 bytes");
      if (i + 1 == bytes.size()) return {};  // the LF has not arrived yet
      if (bytes[i + 1] != '\n') return bad("PROXY v1 header: CR not followed by LF");
      end = i + 2;
      break;
    }
    if (ch < 0x20 || ch > 0x7e) return bad("PROXY v1 header: byte outside printable ASCII");
  }
  if (end == 0) {
    if (bytes.size() >= kProxyV1MaxLength) return bad("PROXY v1 header longer than 107 bytes");
    return {};
  }
  if (end <= kV1Prefix.size()) return bad("PROXY v1 header too short");

  ProxyHeader h;
  h.status = ProxyHeader::Status::parsed;
  h.version = 1;
  h.length = end;
  std::string_view line = bytes.substr(kV1Prefix.size(), end - 2 - kV1Prefix.size());
  std::string_view proto = take_word(line);
  if (proto == "UNKNOWN") return h;  // the rest of the line is to be ignored
  if (!line.empty() && line.back() == ' ') return bad("PROXY v1 header: trailing space");
  int af = 0;
  if (proto == "TCP4") af = AF_INET;
  else if (proto == "TCP6") af = AF_INET6;
  else return bad("PROXY v1 header: protocol is not TCP4, TCP6 or UNKNOWN");

  std::string_view src = take_word(line), dst = take_word(line);
  std::string_view sport = take_word(line), dport = take_word(line);
  if (!line.empty() || dport.empty()) return bad("PROXY v1 header: expected 4 fields after the protocol");
  unsigned char src_ip[16], dst_ip[16];
  if (!parse_ip(src, af, src_ip) || !parse_ip(dst, af, dst_ip)) {
    return bad("PROXY v1 header: address does not match the protocol");
  }
  std::uint16_t sp = 0, dp = 0;
  if (!parse_port(sport, sp) || !parse_port(dport, dp)) return bad("PROXY v1 header: bad port");
  h.has_addresses = true;
  h.source = af == AF_INET ? ipv4(src_ip, sp) : ipv6(src_ip, sp);
  h.destination = af == AF_INET ? ipv4(dst_ip, dp) : ipv6(dst_ip, dp);
  return h;
}

std::uint16_t be16(const char* p) noexcept {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(p[0]) << 8) | static_cast<unsigned char>(p[1]));
}

ProxyHeader parse_v2(std::string_view bytes) noexcept {
  if (!agrees(bytes, kV2Signature)) return bad("not a PROXY header (v2 signature mismatch)");
  if (bytes.size() < kV2FixedLength) return {};
  const auto ver_cmd = static_cast<unsigned char>(bytes[12]);
  const auto fam = static_cast<unsigned char>(bytes[13]);
  if ((ver_cmd >> 4) != 2) return bad("PROXY v2 header: version is not 2");
  const unsigned command = ver_cmd & 0x0f;  // 0 LOCAL, 1 PROXY
  if (command > 1) return bad("PROXY v2 header: command is neither LOCAL nor PROXY");
  const unsigned family = fam >> 4;         // 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX
  const unsigned transport = fam & 0x0f;    // 0 UNSPEC, 1 STREAM, 2 DGRAM
  if (family > 3 || transport > 2) return bad("PROXY v2 header: unknown address family or transport");
  const std::size_t body = be16(bytes.data() + 14);
  const std::size_t total = kV2FixedLength + body;  // <= kProxyV2MaxLength by construction
  if (bytes.size() < total) return {};

  ProxyHeader h;
  h.status = ProxyHeader::Status::parsed;
  h.version = 2;
  h.length = total;
  // LOCAL: the balancer speaking for itself (health checks); the addresses, if any, are ignored.
  if (command == 0) return h;
  const char* p = bytes.data() + kV2FixedLength;
  if (family == 1) {
    if (body < 12) return bad("PROXY v2 header: too short for IPv4 addresses");
    h.has_addresses = true;
    h.source = ipv4(p, be16(p + 8));
    h.destination = ipv4(p + 4, be16(p + 10));
  } else if (family == 2) {
    if (body < 36) return bad("PROXY v2 header: too short for IPv6 addresses");
    h.has_addresses = true;
    h.source = ipv6(p, be16(p + 32));
    h.destination = ipv6(p + 16, be16(p + 34));
  } else if (family == 3) {
    if (body < 216) return bad("PROXY v2 header: too short for Unix addresses");
    // A Unix client behind the balancer: nothing an IP remote_addr() can say; keep the socket's.
  }
  // Whatever follows the addresses, up to `total`, is TLVs: skipped.
  return h;
}

}  // namespace

ProxyHeader parse_proxy_header(std::string_view bytes) noexcept {
  if (bytes.empty()) return {};
  if (bytes[0] == kV2Signature[0]) return parse_v2(bytes);
  return parse_v1(bytes);
}

}  // namespace gnet::detail

// ---- the sending side (gnet/proxy_protocol.hpp) ----

namespace gnet {
namespace {

// An IP address as 16 bytes of IPv6 (IPv4 as ::ffff:a.b.c.d) and a port, host order.
struct Ip {
  bool v4 = false;
  unsigned char v4_bytes[4] = {};
  unsigned char v6_bytes[16] = {};
  std::uint16_t port = 0;
};

bool ip_of(const SocketAddress& a, Ip& out) noexcept {
  if (a.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a.data());
    out.v4 = true;
    std::memcpy(out.v4_bytes, &in->sin_addr, 4);
    out.v6_bytes[10] = out.v6_bytes[11] = 0xff;  // the IPv4-mapped form, for a mixed pair
    std::memcpy(out.v6_bytes + 12, &in->sin_addr, 4);
    out.port = ntohs(in->sin_port);
    return true;
  }
  if (a.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.data());
    std::memcpy(out.v6_bytes, &in6->sin6_addr, 16);
    out.port = ntohs(in6->sin6_port);
    return true;
  }
  return false;
}

void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

}  // namespace

std::string make_proxy_header(ProxyHeaderVersion version, const SocketAddress& source,
                              const SocketAddress& destination) {
  Ip src, dst;
  const bool known = ip_of(source, src) && ip_of(destination, dst);
  const bool v4 = known && src.v4 && dst.v4;
  std::string out;
  if (version == ProxyHeaderVersion::v1) {
    if (!known) return "PROXY UNKNOWN\r\n";
    char src_text[INET6_ADDRSTRLEN] = {}, dst_text[INET6_ADDRSTRLEN] = {};
    if (v4) {
      ::inet_ntop(AF_INET, src.v4_bytes, src_text, sizeof src_text);
      ::inet_ntop(AF_INET, dst.v4_bytes, dst_text, sizeof dst_text);
    } else {
      ::inet_ntop(AF_INET6, src.v6_bytes, src_text, sizeof src_text);
      ::inet_ntop(AF_INET6, dst.v6_bytes, dst_text, sizeof dst_text);
    }
    out.reserve(detail::kProxyV1MaxLength);
    out.append(v4 ? "PROXY TCP4 " : "PROXY TCP6 ").append(src_text).append(" ").append(dst_text);
    out.append(" ").append(std::to_string(src.port)).append(" ").append(std::to_string(dst.port)).append("\r\n");
    return out;
  }
  out.assign(detail::kV2Signature);
  out += static_cast<char>(0x21);  // version 2, command PROXY
  if (!known) {
    out += static_cast<char>(0x00);  // AF_UNSPEC: the receiver keeps the connection's addresses
    put16(out, 0);
    return out;
  }
  out += static_cast<char>(v4 ? 0x11 : 0x21);  // AF_INET or AF_INET6, over STREAM
  put16(out, v4 ? 12 : 36);
  const std::size_t n = v4 ? 4 : 16;
  out.append(reinterpret_cast<const char*>(v4 ? src.v4_bytes : src.v6_bytes), n);
  out.append(reinterpret_cast<const char*>(v4 ? dst.v4_bytes : dst.v6_bytes), n);
  put16(out, src.port);
  put16(out, dst.port);
  return out;
}

}  // namespace gnet
