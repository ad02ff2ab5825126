#include "io/readiness_io.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "buffer/outbound_queue.hpp"
#include "conn/connection.hpp"
#include "loop/event_loop.hpp"
#include "net/pipe_io.hpp"
#include "poller/poller.hpp"

namespace gnet::detail::readiness {
namespace {

void write_messages(Connection& conn) {
  auto& messages = *conn.messages();
  while (!messages.empty()) {
    const std::string& m = messages.front();
    IoResult r = sys_io([&] { return ::send(conn.fd(), m.data(), m.size(), MSG_NOSIGNAL); });
    if (r.would_block) break;
    if (r.error != 0) {
      conn.on_io_error(r.code());
      return;
    }
    conn.message_sent();
  }
  conn.after_flush();
}

}  // namespace

void on_event(Connection& conn, std::uint32_t events, bool edge) {
  if (conn.closed()) return;
  if ((events & kWritable) && conn.has_pending_output()) write(conn);
  if (conn.closed()) return;
  if (events & kReadable) {
    // Paused in edge-triggered mode: resuming re-reads (resume_input), as this edge won't repeat.
    if (conn.reading()) read(conn, edge, (events & (kPeerShut | kHangup)) != 0);
  } else if ((events & kHangup) && !conn.reading()) {
    // Not reading, so no read will tell us: the socket is dead (RST/ERR) — stop waiting on it.
    // A pipe's write end hears this when its reader has gone.
    int err = 0;
    socklen_t len = sizeof err;
    if (conn.is_socket()) ::getsockopt(conn.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    // A clean hang-up while reading is paused: a socket with no error (both directions ended
    // cleanly: our write side is shut and the peer's FIN came), or the end of a pipe, FIFO or
    // terminal that we read from (its writer has gone, or the terminal hung up). The last
    // bytes and the end wait in the kernel for reading to resume: not a reset, and not a broken
    // pipe, which only a writing end hears.
    const bool clean = conn.is_socket() ? err == 0 : conn.input_open();
    if (clean && !conn.close_requested()) {
      conn.loop().driver().park(conn);
      return;
    }
    conn.on_io_error({err != 0 ? err : conn.is_socket() ? ECONNRESET : EPIPE, std::system_category()});
    return;
  } else if (events & kHangup) {
    read(conn, edge);  // the read reports EOF or the error
  }
  conn.settle();
}

void read(Connection& conn, bool edge, bool to_the_end) {
  EventLoop& loop = conn.loop();
  char* buf = loop.read_buffer();
  const std::size_t cap = loop.read_buffer_cap();
  const bool messages = conn.message_oriented();
  // Edge-triggered: at most edge_triggered_chunk bytes per connection per turn (gnet's
  // EdgeTriggeredIOChunk), so one fast sender cannot keep the loop from its other connections.
  // The rest is read on the next turn (a deferred resume; the edge itself will not repeat).
  const std::size_t chunk = edge ? loop.context().options.edge_triggered_chunk : 0;
  std::size_t this_turn = 0;
  for (;;) {
    if (chunk != 0 && this_turn >= chunk) {
      loop.defer_resume(&conn);
      return;
    }
    IoResult r = sys_io([&] { return messages ? ::recv(conn.fd(), buf, cap, MSG_TRUNC) : ::read(conn.fd(), buf, cap); });
    if (r.would_block) return;
    if (r.error != 0) {
      conn.on_io_error(r.code());
      return;
    }
    auto n = static_cast<std::size_t>(r.n);
    this_turn += std::min(n, cap);
    if (n > 0 && messages && n > cap) {
      // MSG_TRUNC made recv report the message's real size: it did not fit the loop buffer.
      loop.context().log(LogLevel::warn, "message of " + std::to_string(n) + " bytes on fd " + std::to_string(conn.fd()) +
                                             " truncated to read_buffer_cap " + std::to_string(cap) + "; dropped");
      if (!edge) return;
      continue;
    }
    if (n > 0 || conn.network() == Network::udp) {
      // (Connected UDP: an empty datagram, not an end of stream.)
      conn.on_input({buf, n});
      // Level-triggered: one read per readiness is fair and the kernel will report the rest.
      // Edge-triggered: keep going until a short read says the socket is drained (message
      // sockets: until EAGAIN, since every message is a "short" read).
      if (!edge || conn.closed() || !conn.reading()) return;
      if (!messages && n < cap && !to_the_end) return;
      continue;
    }
    conn.on_end_of_input();
    return;
  }
}

void write(Connection& conn) {
  if (conn.messages() != nullptr) {
    write_messages(conn);
    return;
  }
  OutboundQueue& out = conn.outbound();
  iovec iov[OutboundQueue::kMaxIov];
  while (!out.empty()) {
    int count = out.gather(iov, OutboundQueue::kMaxIov);
    std::size_t want = 0;
    for (int i = 0; i < count; ++i) want += iov[i].iov_len;
    IoResult r;
    if (conn.is_socket()) {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<std::size_t>(count);
      r = sys_io([&] { return ::sendmsg(conn.fd(), &msg, MSG_NOSIGNAL); });
    } else {
      r = pipe_writev(conn.fd(), iov, count);
    }
    if (r.would_block) break;
    if (r.error != 0) {
      conn.on_io_error(r.code());
      return;
    }
    conn.on_sent(static_cast<std::size_t>(r.n));
    if (static_cast<std::size_t>(r.n) < want) break;  // the kernel is full again
  }
  conn.after_flush();
}

IoResult send(const Connection& conn, std::string_view data) {
  if (!conn.is_socket()) {
    iovec iov{const_cast<char*>(data.data()), data.size()};
    return pipe_writev(conn.fd(), &iov, 1);
  }
  return sys_io([&] { return ::send(conn.fd(), data.data(), data.size(), MSG_NOSIGNAL); });
}

IoResult sendv(const Connection& conn, std::span<const std::string_view> parts) {
  iovec iov[OutboundQueue::kMaxIov];
  int count = 0;
  for (std::size_t i = 0; i < parts.size() && count < OutboundQueue::kMaxIov; ++i) {
    if (parts[i].empty()) continue;
    iov[count].iov_base = const_cast<char*>(parts[i].data());
    iov[count].iov_len = parts[i].size();
    ++count;
  }
  if (count == 0) return {};
  if (!conn.is_socket()) return pipe_writev(conn.fd(), iov, count);
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<std::size_t>(count);
  return sys_io([&] { return ::sendmsg(conn.fd(), &msg, MSG_NOSIGNAL); });
}

}  // namespace gnet::detail::readiness
