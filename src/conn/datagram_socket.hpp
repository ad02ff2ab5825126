// Internal: an unconnected UDP socket (a udp:// listener's socket on one loop). It serves every
// peer at once, so it is not a connection: it never opens or closes for the handler (no
// on_open, no on_close), keeps no input between datagrams and queues no output. Each datagram
// is one on_traffic, in which the handler sees this socket through gnet::Conn: remote_addr() is
// that datagram's sender, write() answers it, send_to() writes to anyone (conn.hpp).
//
// I/O: the loop watches the descriptor for readability like a foreign one (loop/fd_watch.hpp:
// level-triggered on epoll, a re-armed one-shot poll on io_uring) and the loop's DatagramBatch
// receives with recvmmsg and replies with sendmmsg (io/datagram_batch.hpp). The engine owns the
// descriptor; this object only watches it. Loop thread only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <any>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>

#include "gnet/conn.hpp"
#include "gnet/conn_handle.hpp"
#include "loop/fd_watch.hpp"

namespace gnet::detail {

class EventLoop;

class DatagramSocket final : public Conn {
 public:
  // slot: what its handles carry (EventLoop::kDatagramSlot | index).
  DatagramSocket(EventLoop& loop, int fd, int listener_index, std::uint32_t slot) noexcept;
  ~DatagramSocket();

  static DatagramSocket& of(Conn& c) noexcept { return static_cast<DatagramSocket&>(c); }
  static const DatagramSocket& of(const Conn& c) noexcept { return static_cast<const DatagramSocket&>(c); }

  // Starts watching for datagrams.
  std::error_code open();
  // Stops serving (graceful stop, hand-over): no more datagrams are read. Idempotent.
  void stop_reading() noexcept;

  // ---- from the loop's DatagramBatch ----
  // One datagram from that sender: on_traffic. Replies go back to it.
  void on_datagram(std::string_view data, const sockaddr_storage& from, socklen_t from_len);

  // ---- used by conn_api.cpp and ConnHandle ----
  // The datagram being handled (empty outside on_traffic); what the handler leaves is dropped.
  std::string_view peek(std::size_t n) const noexcept { return fresh_.substr(0, n); }
  std::size_t discard(std::size_t n) noexcept;
  std::size_t inbound_size() const noexcept { return fresh_.size(); }
  // A reply to the current datagram's sender (writev: one datagram of all the parts).
  std::error_code send(std::string_view data);
  std::error_code sendv(std::span<const std::string_view> parts);
  // One datagram to `to`: IPv4 or IPv6.
  std::error_code send_to(std::string_view data, const SocketAddress& to);
  SocketAddress remote() const;
  SocketAddress local() const;
  int fd() const noexcept { return fd_; }
  int listener_index() const noexcept { return listener_index_; }
  EventLoop& loop() const noexcept { return loop_; }
  std::any& context() noexcept { return context_; }
  ConnHandle handle() const;

 private:
  // While this socket's batch of datagrams is being dispatched, the reply joins the batch's one
  // sendmmsg; otherwise (a ConnHandle task, a timer) it goes now, and a full socket buffer is
  // reported to the caller (EAGAIN): UDP has no stream to queue into.
  std::error_code send_datagram(std::string_view data, const sockaddr* to, socklen_t to_len);
  void readable(Ready events);

  EventLoop& loop_;
  int fd_;
  std::int16_t listener_index_;
  bool stopped_ = false;
  std::uint32_t slot_;
  std::string_view fresh_;  // the datagram being handled, in the batch's receive area
  FdWatch watch_;           // its registration with the loop's driver
  std::any context_;
  sockaddr_storage sender_{};  // the current datagram's sender
  socklen_t sender_len_ = 0;
};

}  // namespace gnet::detail
