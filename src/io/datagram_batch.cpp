// Internal: recvmmsg in, sendmmsg out, for unconnected UDP sockets (see datagram_batch.hpp).
#include "io/datagram_batch.hpp"

#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "conn/datagram_socket.hpp"
#include "loop/event_loop.hpp"
#include "net/sys_io.hpp"

namespace gnet::detail {

DatagramBatch::DatagramBatch(EventLoop& loop)
    : loop_(loop),
      slot_size_(loop.read_buffer_cap()),
      depth_(static_cast<int>(std::clamp<std::size_t>(kRecvAreaBytes / std::max<std::size_t>(slot_size_, 1), 1, kMaxRecv))),
      // For overwrite: the kernel writes what arrives; untouched pages never become resident.
      recv_area_(std::make_unique_for_overwrite<char[]>(slot_size_ * static_cast<std::size_t>(depth_))),
      reply_area_(std::make_unique_for_overwrite<char[]>(kReplyAreaBytes)),
      offload_(loop.context().options.udp_offload) {}

void DatagramBatch::adopt(int fd) {
  // A coalesced buffer is at most 64 KiB; a smaller slot could truncate one, losing several
  // datagrams at once, so GRO stays off then.
  if (!offload_ || slot_size_ < 65536) return;
  int on = 1;
  ::setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on);  // refused by old kernels: no GRO, fine
}

DatagramBatch::~DatagramBatch() = default;

bool DatagramBatch::in_recv_area(std::string_view data) const noexcept {
  // Compared as integers: pointers into different objects have no order in C++.
  const auto begin = reinterpret_cast<std::uintptr_t>(recv_area_.get());
  const auto end = begin + slot_size_ * static_cast<std::size_t>(depth_);
  const auto p = reinterpret_cast<std::uintptr_t>(data.data());
  return p >= begin && p + data.size() <= end;
}

void DatagramBatch::read(DatagramSocket& conn) {
  LoopCounters& counters = loop_.counters();
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < depth_; ++i) {
      recv_iov_[i] = {recv_area_.get() + static_cast<std::size_t>(i) * slot_size_, slot_size_};
      msghdr& h = recv_msgs_[i].msg_hdr;
      h = {};
      h.msg_name = &recv_from_[i];
      h.msg_namelen = sizeof recv_from_[i];
      h.msg_iov = &recv_iov_[i];
      h.msg_iovlen = 1;
      h.msg_control = recv_control_[i];
      h.msg_controllen = sizeof recv_control_[i];
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
    for (int i = 0; i < n; ++i) {
      const msghdr& h = recv_msgs_[i].msg_hdr;
      const std::size_t len = recv_msgs_[i].msg_len;
      if (len > slot_size_ || (h.msg_flags & MSG_TRUNC)) {
        LoopCounters::add(counters.datagrams_dropped);
        loop_.context().log(LogLevel::warn, "udp datagram of " + std::to_string(len) + " bytes from " +
                                                SocketAddress(reinterpret_cast<const sockaddr*>(&recv_from_[i]), h.msg_namelen).to_string() +
                                                " truncated to read_buffer_cap " + std::to_string(slot_size_) + "; dropped");
        continue;
      }
      deliver(conn, i, len);
    }
    flush();
    collecting_ = nullptr;
    fd_ = -1;
    if (n < depth_) return;  // drained when the call was made
  }
}

// The largest UDP payload (65507 over IPv4, 65527 over IPv6) always fits an empty reply area.
static_assert(DatagramBatch::kReplyAreaBytes >= 65535);

// One received buffer: a datagram, or (UDP_GRO) several of one sender's, gso_size bytes each
// but the last, which are handed over one by one.
void DatagramBatch::deliver(DatagramSocket& conn, int i, std::size_t len) {
  const char* data = static_cast<const char*>(recv_iov_[i].iov_base);
  const msghdr& h = recv_msgs_[i].msg_hdr;
  std::size_t segment = 0;
  for (const cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      if (size > 0) segment = static_cast<std::size_t>(size);
    }
  }
  if (segment == 0 || segment >= len) {
    conn.on_datagram({data, len}, recv_from_[i], h.msg_namelen);
    return;
  }
  if (!gro_logged_) {
    gro_logged_ = true;
    loop_.context().log(LogLevel::debug, "udp: receive offload (UDP_GRO) in use: a coalesced buffer of " +
                                             std::to_string(len) + " bytes split into datagrams of " +
                                             std::to_string(segment));
  }
  for (std::size_t off = 0; off < len; off += segment) {
    conn.on_datagram({data + off, std::min(segment, len - off)}, recv_from_[i], h.msg_namelen);
  }
}

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

bool DatagramBatch::same_destination(int a, int b) const noexcept {
  const sockaddr_storage& x = send_to_[a];
  const sockaddr_storage& y = send_to_[b];
  if (x.ss_family != y.ss_family) return false;
  if (x.ss_family == AF_INET) {
    const auto& p = reinterpret_cast<const sockaddr_in&>(x);
    const auto& q = reinterpret_cast<const sockaddr_in&>(y);
    return p.sin_port == q.sin_port && p.sin_addr.s_addr == q.sin_addr.s_addr;
  }
  if (x.ss_family == AF_INET6) {
    const auto& p = reinterpret_cast<const sockaddr_in6&>(x);
    const auto& q = reinterpret_cast<const sockaddr_in6&>(y);
    return p.sin6_port == q.sin6_port && p.sin6_scope_id == q.sin6_scope_id &&
           std::memcmp(&p.sin6_addr, &q.sin6_addr, sizeof p.sin6_addr) == 0;
  }
  return false;
}

int DatagramBatch::build_wire(int from) {
  int w = 0;
  for (int i = from; i < replies_; ++w) {
    const std::size_t segment = send_iov_[i].iov_len;
    int j = i + 1;
    if (gso_ == 1 && segment > 0 && segment <= gso_max_segment_) {
      std::size_t total = segment;
      // Same destination, same size; only the last of a run may be shorter.
      while (j < replies_ && j - i < kMaxSegments && same_destination(i, j) && send_iov_[j].iov_len > 0 &&
             send_iov_[j].iov_len <= segment && total + send_iov_[j].iov_len <= kMaxGsoBytes) {
        total += send_iov_[j].iov_len;
        ++j;
        if (send_iov_[j - 1].iov_len < segment) break;
      }
    }
    msghdr& h = wire_[w].msg_hdr;
    h = send_msgs_[i].msg_hdr;  // destination and the first iovec
    h.msg_iovlen = static_cast<std::size_t>(j - i);  // the run's iovecs are consecutive
    if (j - i > 1) {
      h.msg_control = wire_control_[w];
      h.msg_controllen = CMSG_SPACE(sizeof(std::uint16_t));
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto gso_size = static_cast<std::uint16_t>(segment);
      std::memcpy(CMSG_DATA(c), &gso_size, sizeof gso_size);
    }
    wire_first_[w] = i;
    i = j;
  }
  return w;
}

void DatagramBatch::flush() {
  if (gso_ < 0) {
    // Probe once per loop: kernels since 4.18 know UDP_SEGMENT.
    int value = 0;
    socklen_t len = sizeof value;
    gso_ = offload_ && ::getsockopt(fd_, SOL_UDP, UDP_SEGMENT, &value, &len) == 0 ? 1 : 0;
  }
  int from = 0;
  while (from < replies_) {
    const int entries = build_wire(from);
    int e = 0;
    while (e < entries) {
      IoResult r = sys_io([&] { return ::sendmmsg(fd_, wire_ + e, static_cast<unsigned>(entries - e), MSG_NOSIGNAL); });
      if (r.ok()) {
        const int sent = static_cast<int>(r.n);
        const int end_reply = e + sent < entries ? wire_first_[e + sent] : replies_;
        std::size_t bytes = 0;
        for (int k = wire_first_[e]; k < end_reply; ++k) bytes += send_iov_[k].iov_len;
        LoopCounters::add(loop_.counters().bytes_out, bytes);
        if (!gso_logged_ && gso_ == 1 && end_reply - wire_first_[e] > sent) {
          gso_logged_ = true;
          loop_.context().log(LogLevel::debug, "udp: segmentation offload (UDP_SEGMENT) in use");
        }
        e += sent;
        continue;
      }
      const int first = wire_first_[e];
      const int count = (e + 1 < entries ? wire_first_[e + 1] : replies_) - first;
      if (count > 1 && (r.error == EIO || r.error == EINVAL)) {
        // The kernel refused the GSO entry itself: resend its datagrams one by one.
        if (r.error == EIO) {
          gso_ = 0;  // no checksum offload on the way: GSO cannot work here
        } else {
          gso_max_segment_ = send_iov_[first].iov_len - 1;  // too large for the route's MTU
        }
        loop_.context().log(LogLevel::debug, std::string("udp: UDP_SEGMENT refused (") + std::strerror(r.error) +
                                                 "); sending those datagrams one by one");
        break;
      }
      if (r.would_block) {
        // The send buffer is full: the rest would meet the same; UDP drops, and so do we.
        count_dropped(static_cast<std::size_t>(replies_ - first), EAGAIN);
        replies_ = 0;
        reply_used_ = 0;
        return;
      }
      // An error of this entry alone (EMSGSIZE, EHOSTUNREACH, a bad address...): skip it.
      count_dropped(static_cast<std::size_t>(count), r.error);
      ++e;
    }
    from = e < entries ? wire_first_[e] : replies_;
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
