// Internal: batched I/O for unconnected UDP sockets (conn/datagram_socket.hpp), one per loop
// (created with the loop's first such socket). The socket calls read() when the loop's driver
// reports it readable, on either backend.
//
// Receive: one recvmmsg takes up to kMaxRecv datagrams, each into its own slot of a per-loop
// receive area (slot size = read_buffer_cap, so every datagram that fits today's single read
// still fits; a larger one is flagged MSG_TRUNC per message, reported and dropped, and its
// neighbours are delivered). Each datagram is still exactly one on_traffic, in arrival order.
//
// Send: while a batch is being dispatched, replies on that socket (Conn::write, Conn::send_to)
// are not sent one sendto each but collected — destination copied, payload referenced when it
// lies in the receive area (untouched until the next recvmmsg, which comes after the flush) and
// copied into a per-loop reply area otherwise (the handler's own buffer may be gone once it
// returns) — and go out with one sendmmsg at the end of the batch, or earlier when the batch
// fills. Order is kept. Outside a batch (a ConnHandle task, on_tick) a reply is sent at once.
//
// A reply the kernel refuses at the flush cannot be reported to the handler that wrote it (it
// has returned): it is dropped, counted in LoopMetrics::datagrams_dropped and logged (at most
// once a second per loop). That is what UDP does anyway when a buffer on the path is full.
//
// Offload (Options::udp_offload, on by default), where the kernel offers it:
// - GSO: at the flush, consecutive replies to the same destination with the same size (the
//   last of a run may be shorter) go out as one sendmmsg entry with a UDP_SEGMENT control
//   message; the kernel (or the NIC) cuts it into the same datagrams. The first flush probes
//   the kernel (getsockopt UDP_SEGMENT); a GSO entry the kernel refuses is resent datagram by
//   datagram, and GSO is turned off for the loop (EIO: the device has no checksum offload) or
//   limited to smaller segments (EINVAL: the segment did not fit the route's MTU).
// - GRO: UDP_GRO on each socket (only when read_buffer_cap >= 64 KiB, the largest coalesced
//   buffer, so that a coalesced buffer can never be truncated and take several datagrams with
//   it); a buffer that arrives with a UDP_GRO control message is split at its gso_size into the
//   datagrams it was made of, each its own on_traffic, in order.
// Neither changes what the handler or the peer sees: the same datagrams, the same order.
//
// Memory: fixed per loop, never per peer or per connection. The receive area reserves
// recv_depth() * read_buffer_cap bytes (at most kRecvAreaBytes, 2 MiB with the default 64 KiB
// cap); only pages that datagrams actually reach become resident. The reply area is
// kReplyAreaBytes. Loop thread only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>

namespace gnet::detail {

class DatagramSocket;
class EventLoop;

class DatagramBatch {
 public:
  // Datagrams per recvmmsg. 32 turns 32 receive syscalls into one, where most of the saving
  // already is; more would make one socket's batch hold the loop longer (level-triggered, a
  // readiness serves at most two batches, as the single-read loop served 64 before).
  static constexpr int kMaxRecv = 32;
  // Most bytes the receive area may reserve; the depth shrinks for large read_buffer_cap.
  static constexpr std::size_t kRecvAreaBytes = std::size_t{2} << 20;
  // Replies per sendmmsg, and bytes of copied reply payload held before a flush.
  static constexpr int kMaxReplies = 64;
  static constexpr std::size_t kReplyAreaBytes = std::size_t{256} << 10;

  explicit DatagramBatch(EventLoop& loop);
  ~DatagramBatch();
  DatagramBatch(const DatagramBatch&) = delete;
  DatagramBatch& operator=(const DatagramBatch&) = delete;

  // Readable (level-triggered): receive and dispatch at most two batches, flushing the replies
  // after each; what is left makes the socket readable again next turn.
  void read(DatagramSocket& socket);

  // True while conn's batch is being dispatched: replies on it should go through collect().
  bool collecting(const DatagramSocket& socket) const noexcept { return collecting_ == &socket; }
  // Adds one reply to the batch (flushing first when it is full). Fails only for a payload no
  // datagram can carry (EMSGSIZE, as sendto would); what the kernel refuses at the flush is
  // counted and logged there.
  std::error_code collect(std::string_view data, const sockaddr* to, socklen_t to_len);

  std::size_t recv_depth() const noexcept { return depth_; }

  // A new shared UDP socket of this loop: turns on UDP_GRO when allowed (see above).
  void adopt(int fd);

 private:
  // Segments one GSO entry may carry (UDP_MAX_SEGMENTS in older kernels) and its payload bound.
  static constexpr int kMaxSegments = 64;
  static constexpr std::size_t kMaxGsoBytes = 65507;

  void flush();
  // Fills wire_ from replies [from, replies_): GSO runs coalesced when allowed. Returns entries.
  int build_wire(int from);
  bool same_destination(int a, int b) const noexcept;
  void deliver(DatagramSocket& socket, int i, std::size_t len);
  void count_dropped(std::size_t n, int err);
  bool in_recv_area(std::string_view data) const noexcept;

  EventLoop& loop_;
  DatagramSocket* collecting_ = nullptr;
  int fd_ = -1;  // collecting_'s socket

  // Receive side.
  std::size_t slot_size_;
  int depth_;
  std::unique_ptr<char[]> recv_area_;
  mmsghdr recv_msgs_[kMaxRecv]{};
  iovec recv_iov_[kMaxRecv]{};
  sockaddr_storage recv_from_[kMaxRecv]{};
  alignas(cmsghdr) char recv_control_[kMaxRecv][CMSG_SPACE(sizeof(int))]{};

  // Send side.
  int replies_ = 0;
  std::size_t reply_used_ = 0;
  std::unique_ptr<char[]> reply_area_;
  mmsghdr send_msgs_[kMaxReplies]{};
  iovec send_iov_[kMaxReplies]{};
  sockaddr_storage send_to_[kMaxReplies]{};
  // What goes to sendmmsg: one entry per datagram, or per GSO run of them.
  mmsghdr wire_[kMaxReplies]{};
  int wire_first_[kMaxReplies]{};  // the reply each entry starts at
  alignas(cmsghdr) char wire_control_[kMaxReplies][CMSG_SPACE(sizeof(std::uint16_t))]{};

  // Offload state. gso_: -1 not probed yet, 0 off, 1 on; gso_max_segment_: the largest segment
  // size still tried with GSO (lowered when the kernel refused one as too large for the route).
  const bool offload_;
  int gso_ = -1;
  std::size_t gso_max_segment_ = kMaxGsoBytes;
  bool gso_logged_ = false, gro_logged_ = false;

  std::chrono::steady_clock::time_point last_drop_log_{};
  std::size_t drops_unlogged_ = 0;
};

}  // namespace gnet::detail
