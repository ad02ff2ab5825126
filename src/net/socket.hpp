// Internal: socket creation, binding and options. Every failure comes back as an Error whose
// message names the operation and the address ("bind tcp://127.0.0.1:9000: Address already in
// use"), never as an abort.
#pragma once

#include <string>
#include <system_error>
#include <vector>

#include "gnet/address.hpp"
#include "gnet/error.hpp"
#include "gnet/options.hpp"

namespace gnet::detail {

// Resolves an IP address (name or literal) to socket addresses, in getaddrinfo's order. An empty
// host gives the wildcard: "::" (dual-stack) for Family::any, else 0.0.0.0 or "::".
Result<std::vector<SocketAddress>> resolve(const Address& addr, bool passive);

// SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET for a network.
int socket_type(Network network);

// A socket address for a Unix address (path or abstract name).
SocketAddress unix_socket_address(const Address& addr);

// A bound (and, for streams, listening) non-blocking socket.
struct ListenSocket {
  int fd = -1;
  SocketAddress bound;      // what getsockname says (port 0 resolved)
  std::string unix_path;    // filesystem path to remove on close; empty otherwise
};

// Opens a listener for addr. reuse_port sets SO_REUSEPORT (one socket per loop).
Result<ListenSocket> open_listener(const Address& addr, const Options& options, bool reuse_port);

// Closes a listener and removes its socket file if it made one.
void close_listener(ListenSocket& listener);

// Options for an accepted/dialed connection socket (TCP_NODELAY, keepalive, buffer sizes).
void apply_connection_options(int fd, bool is_tcp, const Options& options);

std::error_code set_socket_option(int fd, int level, int name, int value);
// Probes after idle_seconds of silence, then every interval_seconds (<= 0: the idle period), and
// the connection is declared dead after count unanswered probes (<= 0: kDefaultKeepAliveCount).
// idle_seconds <= 0 turns keepalive off.
inline constexpr int kDefaultKeepAliveCount = 5;
std::error_code set_keep_alive(int fd, int idle_seconds, int interval_seconds = 0, int count = 0);

}  // namespace gnet::detail
