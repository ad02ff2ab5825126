// gnet/proxy_protocol.hpp — sending the PROXY protocol header (HAProxy's `send-proxy` and
// `send-proxy-v2`): how a proxy or balancer built on gnet-cpp tells the server behind it who
// the real client is.
//
// The receiving side is built in: a listener with `?proxy_protocol=1` reads the header before
// on_open, and remote_addr()/local_addr() report what it says (docs/guide.md, "PROXY
// protocol"). This is the sending side: write the header as the first bytes of the connection
// you dialed to the backend, before anything of the client's.
//
//   // in the dial's on_done, on the loop thread:
//   back->write(gnet::make_proxy_header(gnet::ProxyHeaderVersion::v2,
//                                       front->remote_addr(), front->local_addr()));
//
// Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
#pragma once

#include <string>

#include "gnet/address.hpp"

namespace gnet {

enum class ProxyHeaderVersion {
  v1,  // text: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" (at most 107 bytes)
  v2,  // binary: 16 bytes + 12 (IPv4) or 36 (IPv6) of addresses; no TLVs
};

// The header for a TCP connection from `source` (the client) to `destination` (the address the
// client connected to). Both IPv4: TCP4 / AF_INET; both IPv6: TCP6 / AF_INET6; one of each: the
// IPv4 one as an IPv4-mapped IPv6 address (::ffff:a.b.c.d), so nothing is lost. When either is
// not an IP address (a Unix socket, or empty), the header says the addresses are unknown
// ("PROXY UNKNOWN\r\n"; v2: the PROXY command with family AF_UNSPEC), and the receiver keeps
// the connection's own. Any thread; allocates the returned string only.
std::string make_proxy_header(ProxyHeaderVersion version, const SocketAddress& source,
                              const SocketAddress& destination);

}  // namespace gnet
