// Fuzz harness: the PROXY protocol header parser (src/net/proxy_header.hpp). The connection
// calls it with everything received so far, after every read, so the verdict must not depend
// on where the reads split the bytes: a prefix shorter than a parsed header needs more, a
// longer one parses to the same header, and a refused input stays refused as bytes are added.
// Also: a parsed header lies within the input and within the spec's bounds, with addresses of
// one IP family; a refusal says why. And the sending side (gnet::make_proxy_header): the first
// 37 bytes, read as two addresses of either family with ports, make a header in each version
// that the parser reads back complete, with the same addresses (an IPv4 one mapped into IPv6
// when the families differ).
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "gnet/proxy_protocol.hpp"
#include "net/proxy_header.hpp"

using gnet::detail::ProxyHeader;
using Status = ProxyHeader::Status;

namespace {

bool same(const ProxyHeader& a, const ProxyHeader& b) {
  return a.status == b.status && a.version == b.version && a.length == b.length && a.has_addresses == b.has_addresses &&
         a.source.to_string() == b.source.to_string() && a.destination.to_string() == b.destination.to_string();
}

void check_alone(std::string_view bytes, const ProxyHeader& h) {
  switch (h.status) {
    case Status::needs_more:
      // Never asks for more past the bound: a peer cannot make the connection buffer more.
      if (bytes.size() >= gnet::detail::kProxyV2MaxLength) std::abort();
      if (!bytes.empty() && bytes[0] != '\r' && bytes.size() >= gnet::detail::kProxyV1MaxLength) std::abort();
      break;
    case Status::bad:
      if (h.error == nullptr || h.error[0] == '\0') std::abort();
      break;
    case Status::parsed:
      if (h.length == 0 || h.length > bytes.size()) std::abort();
      if (h.version == 1 && h.length > gnet::detail::kProxyV1MaxLength) std::abort();
      if (h.version == 2 && (h.length < 16 || h.length > gnet::detail::kProxyV2MaxLength)) std::abort();
      if (h.version != 1 && h.version != 2) std::abort();
      if (h.has_addresses) {
        int f = h.source.family();
        if ((f != AF_INET && f != AF_INET6) || h.destination.family() != f) std::abort();
      } else if (!h.source.empty() || !h.destination.empty()) {
        std::abort();
      }
      break;
  }
}

// An IPv4 (even selector) or IPv6 address from 18 bytes: 16 of address (4 used for IPv4), 2 of port.
gnet::SocketAddress address_from(bool v4, const std::uint8_t* p) {
  const std::uint16_t port = static_cast<std::uint16_t>(p[16] << 8 | p[17]);
  if (v4) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, p, 4);
    in.sin_port = htons(port);
    return gnet::SocketAddress(reinterpret_cast<const sockaddr*>(&in), sizeof in);
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  std::memcpy(&in6.sin6_addr, p, 16);
  in6.sin6_port = htons(port);
  return gnet::SocketAddress(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
}

void check_round_trip(const std::uint8_t* data) {
  const gnet::SocketAddress src = address_from((data[0] & 1) == 0, data + 1);
  const gnet::SocketAddress dst = address_from((data[0] & 2) == 0, data + 19);
  const bool mixed = src.family() != dst.family();
  for (auto version : {gnet::ProxyHeaderVersion::v1, gnet::ProxyHeaderVersion::v2}) {
    const std::string header = gnet::make_proxy_header(version, src, dst);
    const ProxyHeader h = gnet::detail::parse_proxy_header(header);
    if (h.status != Status::parsed || h.length != header.size() || !h.has_addresses) std::abort();
    if (h.source.port() != src.port() || h.destination.port() != dst.port()) std::abort();
    if (!mixed && (h.source.ip() != src.ip() || h.destination.ip() != dst.ip())) std::abort();
    if (mixed) {
      const gnet::SocketAddress& v4 = src.family() == AF_INET ? src : dst;
      const gnet::SocketAddress& back = src.family() == AF_INET ? h.source : h.destination;
      if (back.family() != AF_INET6 || back.ip() != "::ffff:" + v4.ip()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size >= 37) check_round_trip(data);
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ProxyHeader whole = gnet::detail::parse_proxy_header(bytes);
  check_alone(bytes, whole);
  // Prefixes, as successive reads would present them: every one for short inputs, a spread for
  // long ones (the whole check stays linear-ish).
  const std::size_t step = size <= 512 ? 1 : size / 256;
  bool refused = false;
  for (std::size_t n = 0; n <= size; n += step) {
    std::string_view prefix = bytes.substr(0, n);
    ProxyHeader h = gnet::detail::parse_proxy_header(prefix);
    check_alone(prefix, h);
    if (refused && h.status != Status::bad) std::abort();  // once refused, always refused
    refused = h.status == Status::bad;
    switch (whole.status) {
      case Status::parsed:
        if (n < whole.length ? h.status != Status::needs_more : !same(h, whole)) std::abort();
        break;
      case Status::needs_more:
        if (h.status != Status::needs_more) std::abort();
        break;
      case Status::bad:
        if (h.status == Status::parsed) std::abort();
        break;
    }
  }
  return 0;
}
