// gnet/address.hpp — the address strings the engine and client accept, and socket addresses.
//
// Forms (scheme://where):
//   tcp://host:port   tcp4://host:port   tcp6://host:port      stream sockets over IP
//   udp://host:port   udp4://host:port   udp6://host:port      datagram sockets over IP
//   unix:///path/to.sock    unix://@abstract-name             stream Unix sockets
//   unixpacket:///path      unixpacket://@name                SOCK_SEQPACKET Unix sockets
// host may be empty (":9000" = every local address), a dotted IPv4, a bracketed IPv6 literal
// ("[::1]:9000"), or a name resolved with getaddrinfo at setup time. Port 0 asks the kernel for a
// free port (read it back with Engine::listen_addresses()).
//
// Options per listener follow a '?' as key=value pairs joined by '&' (an unknown key is an
// error, so a typo never passes silently; a '?' therefore always starts the query, also in a
// Unix path):
//   ?proxy_protocol=1   every connection accepted on this listener must begin with a PROXY
//                       protocol header (HAProxy's v1 text or v2 binary form, detected per
//                       connection), as a load balancer with send-proxy / send-proxy-v2 or
//                       nginx's proxy_protocol sends it. The engine reads it before on_open;
//                       Conn::remote_addr() and local_addr() then report the client and the
//                       address it connected to as the header gives them (v2 LOCAL and v1
//                       UNKNOWN keep the socket's own). A connection whose header is malformed
//                       or incomplete after Options::proxy_header_timeout is closed with
//                       Errc::bad_proxy_header, unseen by the handler. tcp, tls and unix stream
//                       listeners only (udp and unixpacket are refused), and never on a dial.
//   e.g. "tcp://:9000?proxy_protocol=1", "tls://[::1]:8443?proxy_protocol=1".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gnet/error.hpp"

struct sockaddr;

namespace gnet {

enum class Network : std::uint8_t {
  tcp,          // SOCK_STREAM over IPv4/IPv6
  udp,          // SOCK_DGRAM over IPv4/IPv6
  unix_stream,  // SOCK_STREAM over AF_UNIX
  unix_packet,  // SOCK_SEQPACKET over AF_UNIX
  pipe,         // a pipe, FIFO or terminal enrolled with Client::enroll: a byte stream, not a socket
};

// Which IP family a tcp/udp address is restricted to.
enum class Family : std::uint8_t { any, ipv4, ipv6 };

// A parsed address string. Pure data: parsing does no I/O.
struct Address {
  Network network = Network::tcp;
  Family family = Family::any;
  std::string host;        // IP networks: empty means "all interfaces"; brackets removed
  std::uint16_t port = 0;  // IP networks
  std::string path;        // Unix networks: filesystem path, or the name after '@'
  bool abstract = false;   // Unix networks: Linux abstract namespace ("@name")
  bool tls = false;        // tls://, tls4://, tls6://: TCP carrying TLS (see gnet/tls.hpp)
  bool proxy_protocol = false;  // ?proxy_protocol=1: connections begin with a PROXY header

  bool is_ip() const noexcept { return network == Network::tcp || network == Network::udp; }
  bool is_stream() const noexcept {
    return network == Network::tcp || network == Network::unix_stream;
  }
  // Canonical string form, e.g. "tcp://[::1]:9000", "unix:///tmp/x.sock",
  // "tcp://:9000?proxy_protocol=1".
  std::string to_string() const;
};

// Parses an address string. Errors name the input and what is wrong with it, e.g.
// "bad address \"tcp://:70000\": port out of range (0-65535)".
Result<Address> parse_address(std::string_view text);

// A concrete socket address (IPv4, IPv6 or Unix) as the kernel reports it.
class SocketAddress {
 public:
  SocketAddress() noexcept;
  SocketAddress(const sockaddr* sa, unsigned len) noexcept;

  const sockaddr* data() const noexcept;
  unsigned size() const noexcept { return len_; }
  int family() const noexcept;        // AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC when empty
  bool empty() const noexcept { return len_ == 0; }
  std::uint16_t port() const noexcept;  // 0 for Unix
  std::string ip() const;               // "127.0.0.1", "::1"; empty for Unix
  // "127.0.0.1:9000", "[::1]:9000", "/tmp/x.sock", "@name", or "" when empty/unnamed.
  std::string to_string() const;

 private:
  alignas(8) unsigned char storage_[128];
  unsigned len_ = 0;
};

}  // namespace gnet
