// gnet::Conn — the public face of detail::Connection. Every method runs on the connection's
// loop thread, inside a callback.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "conn/connection.hpp"
#include "gnet/conn_handle.hpp"
#include "loop/event_loop.hpp"
#include "net/socket.hpp"

namespace gnet {

using detail::Connection;

// Debug builds check the thread rule of conn.hpp on every call that touches the connection.
static Connection& self(Conn* c) {
  Connection& conn = Connection::of(*c);
  conn.loop().assert_loop_thread();
  return conn;
}
static const Connection& self(const Conn* c) { return Connection::of(*c); }

std::size_t Conn::read(std::span<char> out) {
  std::string_view view = self(this).peek(out.size());
  if (!view.empty()) std::memcpy(out.data(), view.data(), view.size());
  return self(this).discard(view.size());
}

std::string_view Conn::peek(std::size_t n) { return self(this).peek(n); }

std::string_view Conn::next(std::size_t n) {
  std::string_view view = self(this).peek(n);
  self(this).discard(view.size());
  return view;
}

std::size_t Conn::discard(std::size_t n) { return self(this).discard(n); }
std::size_t Conn::inbound_buffered() const noexcept { return self(this).inbound_size(); }

std::error_code Conn::write(std::string_view data) { return self(this).send(data); }
std::error_code Conn::writev(std::span<const std::string_view> parts) { return self(this).sendv(parts); }
std::error_code Conn::send_to(std::string_view data, const SocketAddress& to) { return self(this).send_to(data, to); }
std::error_code Conn::flush() { return self(this).flush(); }
bool Conn::outbound_full() const noexcept { return self(this).outbound_full(); }
std::size_t Conn::outbound_buffered() const noexcept { return self(this).outbound_size(); }

void Conn::close() { self(this).request_close({}); }
bool Conn::closing() const noexcept { return self(this).closed() || self(this).close_requested(); }

void Conn::shutdown_write() { self(this).shutdown_write(); }

void Conn::pause_read() { self(this).set_user_paused(true); }
void Conn::resume_read() { self(this).set_user_paused(false); }

std::any& Conn::context_slot() noexcept { return self(this).context(); }

SocketAddress Conn::local_addr() const { return self(this).local(); }

SocketAddress Conn::remote_addr() const { return self(this).remote(); }
int Conn::fd() const noexcept { return self(this).fd(); }
Network Conn::network() const noexcept { return self(this).network(); }
int Conn::listener_index() const noexcept { return self(this).listener_index(); }
Loop& Conn::loop() noexcept { return self(this).loop(); }

bool Conn::tls() const noexcept { return self(this).tls() != nullptr; }
std::string_view Conn::alpn() const noexcept {
  const detail::TlsSession* t = self(this).tls();
  return t != nullptr ? t->alpn() : std::string_view{};
}
std::string_view Conn::tls_server_name() const noexcept {
  const detail::TlsSession* t = self(this).tls();
  return t != nullptr ? t->server_name() : std::string_view{};
}
std::string_view Conn::tls_version() const noexcept {
  const detail::TlsSession* t = self(this).tls();
  return t != nullptr ? std::string_view(t->version()) : std::string_view{};
}
bool Conn::tls_resumed() const noexcept {
  const detail::TlsSession* t = self(this).tls();
  return t != nullptr && t->resumed();
}

ConnHandle Conn::handle() const {
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
