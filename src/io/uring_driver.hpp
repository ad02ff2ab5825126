// Internal: the io_uring driver — a completion backend. Per loop: one ring, created disabled
// and enabled on the loop's thread (single issuer, deferred task running), and one ring of
// provided receive buffers (the io_uring form of the loop's shared read buffer).
//
//   stream sockets    multishot receive into the provided buffers; each completion is one
//                     on_input (the buffer goes back to the ring as soon as the handler has
//                     consumed or copied its bytes); sends are submitted at the end of the turn,
//                     one in flight per connection, taken from the front of its queue, which
//                     keeps them owned until the completion; nothing is sent directly.
//   message sockets   (UDP, SEQPACKET) one-shot polls re-armed per event: readiness, handled
//                     by io/readiness_io.cpp as with epoll, with the ring doing the waiting.
//   listeners         multishot accept.
//   dials             a one-shot writability poll.
//   foreign fds       (Loop::watch) a one-shot poll, re-armed after each callback while the
//                     interest stands: level-triggered, as with epoll.
//   files             (gnet::File) reads and writes at offsets, continued while short.
//   wake-up           a read of the mailbox's eventfd, re-armed after each wake.
//
// Everything a turn queues goes to the kernel in the one io_uring_enter that also waits for
// the next completions (timeout = the next timer). A completion names its target by pointer and
// a tag in the low bits; a closed connection lives on (EventLoop keeps it while busy()) until
// the kernel has returned every request it had, so a late completion never meets freed memory
// or a descriptor number that was reused.
#pragma once

#include <liburing.h>

#include <memory>
#include <string>
#include <vector>

#include "gnet/error.hpp"
#include "io/io_driver.hpp"

namespace gnet::detail {

class EventLoop;

class UringDriver final : public IoDriver {
 public:
  // Fails, with a message that says why, when the kernel refuses a ring (sysctl
  // kernel.io_uring_disabled, seccomp, too old for single-issuer rings or buffer rings).
  static Result<std::unique_ptr<IoDriver>> create(EventLoop& loop);
  // The same checks on a throwaway ring, without a loop: empty when io_uring is usable.
  static Error probe();
  ~UringDriver() override;

  const char* name() const noexcept override { return "io_uring"; }
  void start() override;
  void finish() override;
  void wait_and_dispatch(int timeout_ms) override;
  bool busy(const Connection& conn) const noexcept override;

  std::error_code watch_wakeup(int fd) override;
  std::error_code watch_listener(Listener& listener) override;
  void set_accepting(Listener& listener, bool on) override;
  void forget_listener(Listener& listener) override;
  std::error_code watch_connect(Connecting& pending) override;
  void forget_connect(Connecting& pending) override;

  std::error_code watch_fd(FdWatch& watch) override;
  std::error_code update_fd(FdWatch& watch) override;
  void forget_fd(FdWatch& watch) override;

  bool does_file_io() const noexcept override { return true; }
  void submit_file(std::unique_ptr<FileRequest> request) override;

  std::error_code open(Connection& conn) override;
  void forget(Connection& conn) override;
  void interest_changed(Connection& conn) override;
  IoResult send_now(Connection& conn, std::string_view data) override;
  IoResult sendv_now(Connection& conn, std::span<const std::string_view> parts) override;
  void flush(Connection& conn) override { interest_changed(conn); }
  void drop_output(Connection& conn) override;
  void resume_input(Connection& conn) override { interest_changed(conn); }

 private:
  struct SendSlot;
  struct PollToken;
  enum Tag : std::uintptr_t { kIgnore = 0, kRecv, kSend, kPollIn, kPollOut, kAccept, kToken, kWake };

  explicit UringDriver(EventLoop& loop) noexcept;
  Result<void> init();
  io_uring_sqe* sqe();
  void cancel(const void* target, std::uintptr_t tag);
  void arm_recv(Connection& conn);
  void arm_poll(Connection& conn, std::uintptr_t tag);
  void arm_accept(Listener& listener);
  void arm_wakeup();
  void arm_watch(PollToken& token, FdWatch& watch);
  void on_token(PollToken* token, int res);
  void drop_token(PollToken* token);
  void arm_file(PollToken& token, FileRequest& request);
  void on_file(PollToken* token, int res);
  void submit_sends();
  void submit_send(Connection& conn);
  void complete(const io_uring_cqe& cqe);
  void on_recv(Connection& conn, int res, unsigned flags);
  void on_send(Connection& conn, int res);
  void on_poll(Connection& conn, std::uintptr_t tag, int res);
  void on_accept(Listener& listener, int res, unsigned flags);
  void return_buffer(unsigned bid);

  EventLoop& loop_;
  io_uring ring_{};
  bool ring_ready_ = false;  // set up (to be torn down)
  bool started_ = false;     // enabled on the loop's thread: submissions may go in
  std::vector<Listener*> arm_at_start_;  // accepts that found the queue full before start()
  // Provided receive buffers: count_ buffers of size_ bytes in one mapping, and the ring of
  // their descriptors that the kernel takes them from.
  io_uring_buf_ring* buf_ring_ = nullptr;
  char* buffers_ = nullptr;
  std::size_t buf_size_ = 0;
  unsigned buf_count_ = 0;
  bool incremental_ = false;             // buffers consumed in parts (IOU_PBUF_RING_INC)
  std::vector<std::uint32_t> buf_offset_;  // per buffer: bytes already delivered from it
  std::uint32_t recv_limit_ = 0;  // bytes per multishot receive before it re-arms (0: none)
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  std::vector<Connection*> send_list_;  // connections with output to submit this turn
  // iovecs of multi-block sends in flight, reused (a loop needs as many as it has sends in
  // flight, never one per idle connection)
  std::vector<std::unique_ptr<SendSlot>> all_slots_;
  std::vector<SendSlot*> free_slots_;
  // Polls for dials and foreign descriptors, and file requests. The kernel's request names the token, not the
  // dialer's or the watch set's object, which may be gone before the completion arrives.
  std::vector<PollToken*> tokens_;
};

}  // namespace gnet::detail
