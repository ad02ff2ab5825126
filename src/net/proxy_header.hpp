// Internal: the PROXY protocol header (HAProxy's, versions 1 and 2) that a load balancer puts in
// front of a connection's bytes to say who the real client is. A pure function: bytes in, a
// verdict out, no I/O and no allocation, so the connection layer, the unit test and the fuzz
// harness all drive the same code.
//
// Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
//   v1: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" (or TCP6, or "PROXY UNKNOWN...\r\n"),
//       at most 107 bytes with the CRLF.
//   v2: a 12-byte signature, version/command, family/transport, a 16-bit length, then the
//       addresses and TLVs: at most 16 + 65535 bytes.
#pragma once

#include <cstddef>
#include <string_view>

#include "gnet/address.hpp"

namespace gnet::detail {

// The bounds a header can never pass: how much a connection may buffer while waiting for one.
inline constexpr std::size_t kProxyV1MaxLength = 107;
inline constexpr std::size_t kProxyV2MaxLength = 16 + 65535;

struct ProxyHeader {
  enum class Status : unsigned char {
    needs_more,  // a valid prefix: read more and call again with everything so far
    parsed,      // length bytes are the header; what follows is the connection's payload
    bad,         // not a PROXY header (wrong signature, malformed, too long): close
  };
  Status status = Status::needs_more;
  int version = 0;             // 1 or 2 (parsed)
  std::size_t length = 0;      // parsed: the header's size in bytes
  // parsed: true when the header carries IPv4/IPv6 addresses for a proxied connection. False
  // for v2 LOCAL (the balancer's own health check), v1 UNKNOWN, and v2 UNSPEC/UNIX families:
  // the socket's real addresses stand.
  bool has_addresses = false;
  SocketAddress source;        // the client as the balancer saw it
  SocketAddress destination;   // the address the client connected to (the balancer's front)
  const char* error = "";      // bad: why, a static string for the log
};

// Looks at the first bytes of a connection. Call with every byte received so far (not only the
// new ones); the verdict is needs_more until the header is complete or proven bad, and a header
// never needs more than kProxyV2MaxLength bytes.
ProxyHeader parse_proxy_header(std::string_view bytes) noexcept;

}  // namespace gnet::detail
