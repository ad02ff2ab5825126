// Internal: recvmmsg in, sendmmsg out, for unconnected UDP sockets (see datagram_batch.hpp).
#include "io/datagram_batch.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "conn/connection.hpp"
#include "loop/event_loop.hpp"
#include "net/sys_io.hpp"

namespace gnet::detail {

DatagramBatch::DatagramBatch(EventLoop& loop)
    : loop_(loop),
      slot_size_(loop.read_buffer_cap()),
      depth_(static_cast<int>(std::clamp<std::size_t>(kRecvAreaBytes / std::max<std::size_t>(slot_size_, 1), 1, kMaxRecv))),
      // For overwrite: the kernel writes what arrives; untouched pages never become resident.
      recv_area_(std::make_unique_for_overwrite<char[]>(slot_size_ * static_cast<std::size_t>(depth_))),
      reply_area_(std::make_unique_for_overwrite<char[]>(kReplyAreaBytes)) {}

DatagramBatch::~DatagramBatch() = default;

bool DatagramBatch::in_recv_area(std::string_view data) const noexcept {
  // Compared as integers: pointers into different objects have no order in C++.
  const auto begin = reinterpret_cast<std::uintptr_t>(recv_area_.get());
  const auto end = begin + slot_size_ * static_cast<std::size_t>(depth_);
  const auto p = reinterpret_cast<std::uintptr_t>(data.data());
  return p >= begin && p + data.size() <= end;
}

void DatagramBatch::read(Connection& conn, bool edge) {
  LoopCounters& counters = loop_.counters();
  for (int round = 0; (round < 2 || edge) && !conn.closed(); ++round) {
    for (int i = 0; i < depth_; ++i) {
      recv_iov_[i] = {recv_area_.get() + static_cast<std::size_t>(i) * slot_size_, slot_size_};
      msghdr& h = recv_msgs_[i].msg_hdr;
      h = {};
      h.msg_name = &recv_from_[i];
      h.msg_namelen = sizeof recv_from_[i];
      h.msg_iov = &recv_iov_[i];
      h.msg_iovlen = 1;
      recv_msgs_[i].msg_len = 0;
    }
    // MSG_TRUNC: msg_len is a datagram's real size even when it did not fit its slot.
    IoResult r = sys_io([&] { return ::recvmmsg(conn.fd(), recv_msgs_, static_cast<unsigned>(depth_), MSG_TRUNC, nullptr); });
    if (r.would_block) return;
    if (r.error != 0) {
      loop_.context().log(LogLevel::warn, std::string("udp recvmmsg: ") + std::strerror(r.error));
      return;
    }
    const int n = static_cast<int>(r.n);
    collecting_ = &conn;
    fd_ = conn.fd();
    for (int i = 0; i < n && !conn.closed(); ++i) {
      const msghdr& h = recv_msgs_[i].msg_hdr;
      const std::size_t len = recv_msgs_[i].msg_len;
      if (len > slot_size_ || (h.msg_flags & MSG_TRUNC)) {
        LoopCounters::add(counters.datagrams_dropped);
        loop_.context().log(LogLevel::warn, "udp datagram of " + std::to_string(len) + " bytes from " +
                                                SocketAddress(reinterpret_cast<const sockaddr*>(&recv_from_[i]), h.msg_namelen).to_string() +
                                                " truncated to read_buffer_cap " + std::to_string(slot_size_) + "; dropped");
        continue;
      }
      conn.on_datagram({static_cast<const char*>(recv_iov_[i].iov_base), len}, recv_from_[i], h.msg_namelen);
    }
    flush();
    collecting_ = nullptr;
    fd_ = -1;
    if (n < depth_) return;  // drained when the call was made
  }
}

// The largest UDP payload (65507 over IPv4, 65527 over IPv6) always fits an empty reply area.
static_assert(DatagramBatch::kReplyAreaBytes >= 65535);

std::error_code DatagramBatch::collect(std::string_view data, const sockaddr* to, socklen_t to_len) {
  // Larger than any UDP payload: what sendto would say, said now (and the area cannot overflow).
  if (data.size() > 65535) return std::make_error_code(std::errc::message_size);
  const bool referenced = in_recv_area(data);
  if (replies_ == kMaxReplies || (!referenced && data.size() > kReplyAreaBytes - reply_used_)) flush();
  char* bytes = const_cast<char*>(data.data());
  if (!referenced && !data.empty()) {
    bytes = reply_area_.get() + reply_used_;
    std::memcpy(bytes, data.data(), data.size());
    reply_used_ += data.size();
  }
  const int i = replies_++;
  std::memcpy(&send_to_[i], to, std::min<std::size_t>(to_len, sizeof send_to_[i]));
  send_iov_[i] = {bytes, data.size()};
  msghdr& h = send_msgs_[i].msg_hdr;
  h = {};
  h.msg_name = &send_to_[i];
  h.msg_namelen = to_len;
  h.msg_iov = &send_iov_[i];
  h.msg_iovlen = 1;
  return {};
}

void DatagramBatch::flush() {
  int i = 0;
  while (i < replies_) {
    IoResult r = sys_io([&] {
      return ::sendmmsg(fd_, send_msgs_ + i, static_cast<unsigned>(replies_ - i), MSG_NOSIGNAL);
    });
    if (r.ok()) {
      const int sent = static_cast<int>(r.n);
      std::size_t bytes = 0;
      for (int k = i; k < i + sent; ++k) bytes += send_iov_[k].iov_len;
      LoopCounters::add(loop_.counters().bytes_out, bytes);
      i += sent;
      continue;
    }
    if (r.would_block) {
      // The send buffer is full: the rest would meet the same; UDP drops, and so do we.
      count_dropped(static_cast<std::size_t>(replies_ - i), EAGAIN);
      break;
    }
    // An error of the datagram at i alone (EMSGSIZE, EHOSTUNREACH, a bad address...): skip it.
    count_dropped(1, r.error);
    ++i;
  }
  replies_ = 0;
  reply_used_ = 0;
}

void DatagramBatch::count_dropped(std::size_t n, int err) {
  LoopCounters::add(loop_.counters().datagrams_dropped, n);
  drops_unlogged_ += n;
  // At most one line a second: a flood that fills the send buffer must not flood the log too.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_drop_log_ < std::chrono::seconds(1)) return;
  last_drop_log_ = now;
  loop_.context().log(LogLevel::warn, "udp: " + std::to_string(drops_unlogged_) +
                                          " batched repl" + (drops_unlogged_ == 1 ? "y" : "ies") +
                                          " dropped, the kernel refused them: " + std::strerror(err) +
                                          " (counted in datagrams_dropped)");
  drops_unlogged_ = 0;
}

}  // namespace gnet::detail
