// Internal: batched I/O for unconnected UDP sockets, one per loop (created when the loop first
// reads a datagram). Both drivers use it: epoll directly, io_uring through its one-shot polls of
// message sockets (readiness_io.cpp).
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
// Memory: fixed per loop, never per peer or per connection. The receive area reserves
// recv_depth() * read_buffer_cap bytes (at most kRecvAreaBytes, 2 MiB with the default 64 KiB
// cap); only pages that datagrams actually reach become resident. The reply area is
// kReplyAreaBytes. Loop thread only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>
#include <system_error>

namespace gnet::detail {

class Connection;
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

  // Readable: receive and dispatch batches, flushing the replies after each. Level-triggered:
  // at most two batches; edge-triggered: until a batch comes back short (the queue was empty
  // then; a later datagram raises a new edge).
  void read(Connection& conn, bool edge);

  // True while conn's batch is being dispatched: replies on it should go through collect().
  bool collecting(const Connection& conn) const noexcept { return collecting_ == &conn; }
  // Adds one reply to the batch (flushing first when it is full). Fails only for a payload no
  // datagram can carry (EMSGSIZE, as sendto would); what the kernel refuses at the flush is
  // counted and logged there.
  std::error_code collect(std::string_view data, const sockaddr* to, socklen_t to_len);

  std::size_t recv_depth() const noexcept { return depth_; }

 private:
  void flush();
  void count_dropped(std::size_t n, int err);
  bool in_recv_area(std::string_view data) const noexcept;

  EventLoop& loop_;
  Connection* collecting_ = nullptr;
  int fd_ = -1;  // collecting_'s socket

  // Receive side.
  std::size_t slot_size_;
  int depth_;
  std::unique_ptr<char[]> recv_area_;
  mmsghdr recv_msgs_[kMaxRecv]{};
  iovec recv_iov_[kMaxRecv]{};
  sockaddr_storage recv_from_[kMaxRecv]{};

  // Send side.
  int replies_ = 0;
  std::size_t reply_used_ = 0;
  std::unique_ptr<char[]> reply_area_;
  mmsghdr send_msgs_[kMaxReplies]{};
  iovec send_iov_[kMaxReplies]{};
  sockaddr_storage send_to_[kMaxReplies]{};

  std::chrono::steady_clock::time_point last_drop_log_{};
  std::size_t drops_unlogged_ = 0;
};

}  // namespace gnet::detail
