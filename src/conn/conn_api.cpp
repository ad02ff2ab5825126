// gnet::Conn — the public face of detail::Connection (a connection) and detail::DatagramSocket
// (an unconnected UDP socket, which serves every peer). Each call goes to the one behind this
// Conn; the branch is on a byte in Conn itself. Every method runs on the loop thread, inside a
// callback.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "conn/connection.hpp"
#include "conn/datagram_socket.hpp"
#include "gnet/conn_handle.hpp"
#include "loop/event_loop.hpp"
#include "net/socket.hpp"

namespace gnet {

using detail::Connection;
using detail::DatagramSocket;

// Debug builds check the thread rule of conn.hpp on every call that touches the connection.
static Connection& self(Conn* c) {
  Connection& conn = Connection::of(*c);
  conn.loop().assert_loop_thread();
  return conn;
}
static const Connection& self(const Conn* c) { return Connection::of(*c); }
static DatagramSocket& socket_of(Conn* c) {
  DatagramSocket& socket = DatagramSocket::of(*c);
  socket.loop().assert_loop_thread();
  return socket;
}
static const DatagramSocket& socket_of(const Conn* c) { return DatagramSocket::of(*c); }

std::size_t Conn::read(std::span<char> out) {
  std::string_view view = peek(out.size());
  if (!view.empty()) std::memcpy(out.data(), view.data(), view.size());
  return discard(view.size());
}

std::string_view Conn::peek(std::size_t n) {
  return shared_datagram() ? socket_of(this).peek(n) : self(this).peek(n);
}

std::string_view Conn::next(std::size_t n) {
  std::string_view view = peek(n);
  discard(view.size());
  return view;
}

std::size_t Conn::discard(std::size_t n) {
  return shared_datagram() ? socket_of(this).discard(n) : self(this).discard(n);
}
std::size_t Conn::inbound_buffered() const noexcept {
  return shared_datagram() ? socket_of(this).inbound_size() : self(this).inbound_size();
}

std::error_code Conn::write(std::string_view data) {
  return shared_datagram() ? socket_of(this).send(data) : self(this).send(data);
}
std::error_code Conn::writev(std::span<const std::string_view> parts) {
  return shared_datagram() ? socket_of(this).sendv(parts) : self(this).sendv(parts);
}
std::error_code Conn::send_to(std::string_view data, const SocketAddress& to) {
  if (!shared_datagram()) return make_error_code(Errc::not_datagram);  // a peer of its own
  return socket_of(this).send_to(data, to);
}
// A datagram socket queues nothing: each reply is sent or batched at once.
std::error_code Conn::flush() { return shared_datagram() ? std::error_code{} : self(this).flush(); }
bool Conn::outbound_full() const noexcept { return !shared_datagram() && self(this).outbound_full(); }
std::size_t Conn::outbound_buffered() const noexcept {
  return shared_datagram() ? 0 : self(this).outbound_size();
}

// A datagram socket serves every peer: it is never closed or half-closed by one of them.
void Conn::close() {
  if (!shared_datagram()) self(this).request_close({});
}
bool Conn::closing() const noexcept {
  return !shared_datagram() && (self(this).closed() || self(this).close_requested());
}
void Conn::shutdown_write() {
  if (!shared_datagram()) self(this).shutdown_write();
}

// A paused datagram socket would get no on_traffic to resume from: both do nothing there.
void Conn::pause_read() {
  if (!shared_datagram()) self(this).set_user_paused(true);
}
void Conn::resume_read() {
  if (!shared_datagram()) self(this).set_user_paused(false);
}

std::any& Conn::context_slot() noexcept {
  return shared_datagram() ? socket_of(this).context() : self(this).context();
}

SocketAddress Conn::local_addr() const { return shared_datagram() ? socket_of(this).local() : self(this).local(); }
SocketAddress Conn::remote_addr() const { return shared_datagram() ? socket_of(this).remote() : self(this).remote(); }
int Conn::fd() const noexcept { return shared_datagram() ? socket_of(this).fd() : self(this).fd(); }
Network Conn::network() const noexcept { return shared_datagram() ? Network::udp : self(this).network(); }
int Conn::listener_index() const noexcept {
  return shared_datagram() ? socket_of(this).listener_index() : self(this).listener_index();
}
Loop& Conn::loop() noexcept { return shared_datagram() ? socket_of(this).loop() : self(this).loop(); }

// TLS is for connections; a datagram socket has none of it.
static const detail::TlsSession* tls_of(const Conn* c, bool shared_datagram) noexcept {
  return shared_datagram ? nullptr : self(c).tls();
}
bool Conn::tls() const noexcept { return tls_of(this, shared_datagram()) != nullptr; }
std::string_view Conn::alpn() const noexcept {
  const detail::TlsSession* t = tls_of(this, shared_datagram());
  return t != nullptr ? t->alpn() : std::string_view{};
}
std::string_view Conn::tls_server_name() const noexcept {
  const detail::TlsSession* t = tls_of(this, shared_datagram());
  return t != nullptr ? t->server_name() : std::string_view{};
}
std::string_view Conn::tls_version() const noexcept {
  const detail::TlsSession* t = tls_of(this, shared_datagram());
  return t != nullptr ? std::string_view(t->version()) : std::string_view{};
}
bool Conn::tls_resumed() const noexcept {
  const detail::TlsSession* t = tls_of(this, shared_datagram());
  return t != nullptr && t->resumed();
}

ConnHandle Conn::handle() const {
  if (shared_datagram()) return socket_of(this).handle();
  const Connection& c = self(this);
  return ConnHandle(c.loop().mailbox(), c.slot, c.generation);
}
std::error_code Conn::set_no_delay(bool on) {
  return detail::set_socket_option(fd(), IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

std::error_code Conn::set_keep_alive(std::chrono::seconds period) {
  return detail::set_keep_alive(fd(), static_cast<int>(period.count()));
}

std::error_code Conn::set_keep_alive(std::chrono::seconds idle, std::chrono::seconds interval, int count) {
  if (interval.count() < 0 || count < 0) return std::make_error_code(std::errc::invalid_argument);
  return detail::set_keep_alive(fd(), static_cast<int>(idle.count()), static_cast<int>(interval.count()), count);
}

std::error_code Conn::set_linger(std::optional<std::chrono::seconds> linger) {
  ::linger l{};
  l.l_onoff = linger.has_value() ? 1 : 0;
  l.l_linger = linger ? static_cast<int>(linger->count()) : 0;
  if (::setsockopt(fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) return {errno, std::system_category()};
  return {};
}

std::error_code Conn::set_read_buffer(int bytes) {
  return detail::set_socket_option(fd(), SOL_SOCKET, SO_RCVBUF, bytes);
}

std::error_code Conn::set_write_buffer(int bytes) {
  return detail::set_socket_option(fd(), SOL_SOCKET, SO_SNDBUF, bytes);
}

}  // namespace gnet
