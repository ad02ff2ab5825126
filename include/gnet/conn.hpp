// gnet/conn.hpp — a connection as callbacks see it.
//
// Thread rule: a Conn& is valid only inside a callback for it, on its loop's thread. To reach a
// connection later or from another thread, take conn.handle() (see conn_handle.hpp).
//
// Inbound bytes: on_traffic sees the bytes left unconsumed last time followed by the fresh ones.
// peek()/next() return one contiguous view, even across the ring buffer's wrap point. Whatever
// the handler leaves unconsumed is kept in the connection's own buffer, allocated only then and
// released once drained: an idle connection owns no buffer.
//
// Outbound bytes, epoll backend: write() sends straight to the socket; only what the kernel
// refuses is queued (in pooled blocks), and flushed with writev when the socket becomes writable
// again. io_uring backend: write() queues (one copy) and the loop submits every connection's
// queued bytes with the turn's single system call, one send in flight per connection; queued
// bytes stay owned until the kernel reports them sent. Either way order is kept and nothing is
// dropped.
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>

#include "gnet/address.hpp"

namespace gnet {

class ConnHandle;
class Loop;

class Conn {
 public:
  static constexpr std::size_t all = std::numeric_limits<std::size_t>::max();

  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // ---- inbound ----
  // Copies up to out.size() bytes into out and consumes them. Returns how many.
  std::size_t read(std::span<char> out);
  // A contiguous view of the first min(n, inbound_buffered()) bytes, not consumed.
  std::string_view peek(std::size_t n = all);
  // Like peek, and consumes what it returns. The view stays valid until the callback returns.
  std::string_view next(std::size_t n = all);
  // Consumes up to n bytes without looking at them. Returns how many.
  std::size_t discard(std::size_t n = all);
  std::size_t inbound_buffered() const noexcept;

  // ---- outbound ----
  // Sends data (UDP: one datagram to the current datagram's sender; SEQPACKET: one message).
  // Returns Errc::connection_closed once the connection is closing; otherwise every byte is sent
  // or queued. Socket errors surface through on_close.
  //
  // Unconnected UDP (a udp:// listener): inside on_traffic the reply joins the loop's batch and
  // goes out with one sendmmsg after the batch of received datagrams is handled, in the order
  // written (the bytes are copied or, when they are the received datagram itself, referenced).
  // A reply the kernel then refuses (send buffer full) is dropped, logged and counted in
  // LoopMetrics::datagrams_dropped, since the handler has returned. Outside on_traffic it is sent
  // at once and a full buffer comes back as EAGAIN. Nothing is ever queued per peer.
  std::error_code write(std::string_view data);
  std::error_code writev(std::span<const std::string_view> parts);
  // Unconnected UDP only (gnet's SendTo): one datagram to `to` (IPv4 or IPv6, of the socket's
  // family), batched like write() inside on_traffic. The current datagram's sender is
  // remote_addr(). Errc::not_datagram on any other connection (TCP, Unix, a dialed UDP socket,
  // whose peer is fixed). Loop thread, like every Conn call; from another thread use
  // ConnHandle::async_send_to.
  std::error_code send_to(std::string_view data, const SocketAddress& to);
  // epoll: tries to send queued output now rather than at the next writable event. io_uring:
  // queued output is submitted at the end of the loop turn anyway; this is a no-op.
  std::error_code flush();
  std::size_t outbound_buffered() const noexcept;
  // True while more than Options::write_buffer_cap is queued (the high-water mark passed; new
  // bytes are not read), until the queue drains below half (on_low_water). A handler answering
  // pipelined requests stops consuming while this is true; whatever it leaves unconsumed is
  // handed to on_traffic again once the queue drains, even if the peer sends nothing more.
  bool outbound_full() const noexcept;

  // Closes the connection once queued output is flushed (bounded by
  // Options::shutdown_timeout). on_close follows on this loop. No reads happen after this.
  // Unconnected UDP: does nothing (the socket serves every peer; so does Action::close).
  void close();
  bool closing() const noexcept;
  // Half-close: send FIN once queued output is flushed, keep reading. When the peer has finished
  // too (on_eof returned Action::none), the connection then closes. TCP and Unix streams only.
  void shutdown_write();

  // Stop/restart reading this connection (no on_traffic meanwhile; the kernel's receive window
  // then pushes back on the peer). Resuming with input still buffered calls on_traffic for it
  // in this loop turn, without waiting for new bytes. Unconnected UDP: both do nothing (a paused
  // socket would get no on_traffic to resume from).
  void pause_read();
  void resume_read();

  // ---- user context (owned by the connection, destroyed when it closes) ----
  template <class T>
  void set_context(T value) {
    context_slot() = std::move(value);
  }
  // nullptr when no context of exactly type T is set.
  template <class T>
  T* context() noexcept {
    return std::any_cast<T>(&context_slot());
  }
  void reset_context() noexcept { context_slot().reset(); }

  // ---- identity ----
  // The socket's own addresses; on a ?proxy_protocol=1 listener (gnet/address.hpp), the ones
  // the PROXY header named: remote_addr() the client, local_addr() the address it connected
  // to (the socket's own for a v2 LOCAL or v1 UNKNOWN header). Valid from on_open to on_close.
  SocketAddress local_addr() const;
  // The peer. Unconnected UDP: the sender of the datagram being handled (inside on_traffic).
  SocketAddress remote_addr() const;
  int fd() const noexcept;
  Network network() const noexcept;
  // Which of the engine's addresses (rotate()) this connection came from; -1 for dialed ones.
  int listener_index() const noexcept;
  Loop& loop() noexcept;
  // A thread-safe reference to this connection (see conn_handle.hpp). For an unconnected UDP
  // socket it names the socket, for ConnHandle::async_send_to.
  ConnHandle handle() const;

  // ---- TLS (tls:// connections: see gnet/tls.hpp) ----
  // True for a connection that speaks TLS; on_traffic and write() still deal in plaintext.
  bool tls() const noexcept;
  // The protocol ALPN settled on ("h2", "http/1.1"), or empty.
  std::string_view alpn() const noexcept;
  // The SNI name: the one the client sent (server side) or asked for (client side); or empty.
  std::string_view tls_server_name() const noexcept;
  // "TLSv1.3" or "TLSv1.2"; empty without TLS.
  std::string_view tls_version() const noexcept;
  // The handshake resumed an earlier session (a ticket) instead of a full key exchange.
  bool tls_resumed() const noexcept;

  // ---- socket options (return the setsockopt error, if any) ----
  std::error_code set_no_delay(bool on);
  std::error_code set_keep_alive(std::chrono::seconds period);  // zero turns keepalive off
  // First probe after `idle`, then every `interval`; closed after `count` unanswered probes
  // (gnet's SetKeepAlive). TCP only; zero idle turns keepalive off.
  std::error_code set_keep_alive(std::chrono::seconds idle, std::chrono::seconds interval, int count);
  std::error_code set_linger(std::optional<std::chrono::seconds> linger);  // nullopt = off
  std::error_code set_read_buffer(int bytes);
  std::error_code set_write_buffer(int bytes);

 protected:
  // What stands behind this Conn: a connection, or an unconnected UDP socket serving every peer
  // (a udp:// listener's). conn_api.cpp routes each call on it.
  enum class Backing : std::uint8_t { connection, datagram_socket };
  explicit Conn(Backing backing) noexcept : backing_(backing) {}
  ~Conn() = default;

 private:
  bool shared_datagram() const noexcept { return backing_ == Backing::datagram_socket; }
  std::any& context_slot() noexcept;

  Backing backing_;
};

}  // namespace gnet
