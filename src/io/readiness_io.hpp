// Internal: the socket calls a readiness event implies for a connection — read into the loop's
// buffer and deliver, flush queued output with sendmsg (writev on a pipe), receive datagrams
// (batched: io/datagram_batch.hpp) —
// shared by every driver that sees readiness (epoll for everything; io_uring for message
// sockets and pipes, which it watches with poll requests).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "net/sys_io.hpp"

namespace gnet::detail {

class Connection;

namespace readiness {

// A poller event for conn: flush when writable, read when readable, notice a dead socket.
void on_event(Connection& conn, std::uint32_t events, bool edge);
// Reads and delivers: one read (level-triggered) or until a short read / EAGAIN (edge).
// to_the_end: edge-triggered, keep reading past a short read until EAGAIN or the end of input —
// when the peer's end is known to be there (EPOLLRDHUP), or after a pause (no edge will come
// for what arrived meanwhile, the end included).
void read(Connection& conn, bool edge, bool to_the_end = false);
// Writes queued output until the kernel pushes back, then lets the connection settle its
// watermarks.
void write(Connection& conn);
// Sends straight from the caller's bytes (nothing is queued): send/sendmsg on a socket,
// write/writev (SIGPIPE held back) on a pipe or terminal.
IoResult send(const Connection& conn, std::string_view data);
IoResult sendv(const Connection& conn, std::span<const std::string_view> parts);

}  // namespace readiness
}  // namespace gnet::detail
