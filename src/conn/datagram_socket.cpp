#include "conn/datagram_socket.hpp"

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>

#include "io/io_driver.hpp"
#include "io/datagram_batch.hpp"
#include "loop/event_loop.hpp"
#include "net/sys_io.hpp"

namespace gnet::detail {

DatagramSocket::DatagramSocket(EventLoop& loop, int fd, int listener_index, std::uint32_t slot) noexcept
    : Conn(Backing::datagram_socket),
      loop_(loop),
      fd_(fd),
      listener_index_(static_cast<std::int16_t>(listener_index)),
      slot_(slot) {
  watch_.fd = fd;
  watch_.interest = Ready::readable;
  watch_.callback = [this](Ready events) { readable(events); };
}

DatagramSocket::~DatagramSocket() = default;

std::error_code DatagramSocket::open() {
  loop_.datagram_batch().adopt(fd_);
  return loop_.driver().watch_fd(watch_);
}

void DatagramSocket::stop_reading() noexcept {
  if (stopped_) return;
  stopped_ = true;
  watch_.dead = true;  // an event already fetched this turn finds it dead
  loop_.driver().forget_fd(watch_);
}

void DatagramSocket::readable(Ready) {
  // Level-triggered: a batch or two now, the rest when the loop asks again.
  if (!stopped_) loop_.datagram_batch().read(*this);
}

void DatagramSocket::on_datagram(std::string_view data, const sockaddr_storage& from, socklen_t from_len) {
  sender_len_ = from_len <= sizeof sender_ ? from_len : 0;
  if (sender_len_ != 0) std::memcpy(&sender_, &from, sender_len_);
  LoopCounters& m = loop_.counters();
  LoopCounters::add(m.bytes_in, data.size());
  LoopCounters::add(m.messages_in);
  fresh_ = data;
  Action action = Action::none;
  try {
    action = loop_.context().handler.on_traffic(*this);
  } catch (const std::exception& e) {
    // One bad datagram must not end the socket: it serves every peer.
    loop_.context().log(LogLevel::error, "handler threw on udp fd " + std::to_string(fd_) + ": " + e.what());
  } catch (...) {
    loop_.context().log(LogLevel::error, "handler threw a non-exception on udp fd " + std::to_string(fd_));
  }
  fresh_ = {};
  // Action::close is ignored for the same reason; Action::shutdown stops the engine.
  if (action == Action::shutdown) loop_.context().request_stop();
}

std::size_t DatagramSocket::discard(std::size_t n) noexcept {
  const std::size_t taken = n < fresh_.size() ? n : fresh_.size();
  fresh_.remove_prefix(taken);
  return taken;
}

std::error_code DatagramSocket::send(std::string_view data) {
  if (sender_len_ == 0) return std::make_error_code(std::errc::destination_address_required);  // none came yet
  std::error_code ec = send_datagram(data, reinterpret_cast<const sockaddr*>(&sender_), sender_len_);
  if (!ec) LoopCounters::add(loop_.counters().messages_out);
  return ec;
}

std::error_code DatagramSocket::sendv(std::span<const std::string_view> parts) {
  // One datagram of all the parts, assembled in scratch space the loop thread reuses (the
  // batch copies it, and sendto is done with it on return).
  thread_local std::string joined;
  joined.clear();
  for (std::string_view p : parts) joined.append(p);
  return send(joined);
}

std::error_code DatagramSocket::send_to(std::string_view data, const SocketAddress& to) {
  if (to.family() != AF_INET && to.family() != AF_INET6) return std::make_error_code(std::errc::address_family_not_supported);
  std::error_code ec = send_datagram(data, to.data(), static_cast<socklen_t>(to.size()));
  if (!ec) LoopCounters::add(loop_.counters().messages_out);
  return ec;
}

std::error_code DatagramSocket::send_datagram(std::string_view data, const sockaddr* to, socklen_t to_len) {
  if (DatagramBatch* batch = loop_.datagram_batch_if_any(); batch != nullptr && batch->collecting(*this)) {
    return batch->collect(data, to, to_len);
  }
  IoResult r = sys_io([&] { return ::sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL, to, to_len); });
  if (r.would_block) return {EAGAIN, std::system_category()};
  if (r.error != 0) return r.code();
  LoopCounters::add(loop_.counters().bytes_out, data.size());
  return {};
}

SocketAddress DatagramSocket::remote() const {
  if (sender_len_ == 0) return {};
  return SocketAddress(reinterpret_cast<const sockaddr*>(&sender_), sender_len_);
}

SocketAddress DatagramSocket::local() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
}

ConnHandle DatagramSocket::handle() const { return ConnHandle(loop_.mailbox(), slot_, 0); }

}  // namespace gnet::detail
