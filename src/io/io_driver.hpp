// Internal: the I/O driver seam. One driver per loop owns everything that depends on how the
// kernel is asked for I/O: waiting, accepting, connect completion, receiving into the loop's
// buffer(s), flushing queued output, arming writability and the cross-thread wake-up.
//
// Two shapes of kernel interface sit behind it:
//   - readiness (ReadinessDriver over poller/: epoll on Linux; a kqueue poller is a file beside
//     epoll.cpp): the driver hears "fd is readable/writable" and makes the calls itself, at once;
//   - completion (UringDriver): the driver submits receives and sends, and the kernel reports them
//     done later, in batches.
// Everything above the seam is backend-free: Connection is a state machine fed by events (input
// arrived as a view, n bytes sent, end of input, error) that asks the driver to send; the
// acceptor hears "socket accepted", the dialer "connect finished".
//
// Every method runs on the owning loop's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>

#include "gnet/unique_function.hpp"
#include "net/sys_io.hpp"

namespace gnet::detail {

class Connection;
struct Listener;
struct Connecting;
struct FdWatch;

// One gnet::File read or write at an offset, carried out by a completion driver on its ring.
struct FileRequest {
  int fd = -1;
  bool write = false;
  std::uint64_t offset = 0;
  char* data = nullptr;
  std::size_t length = 0;
  std::size_t done = 0;  // bytes transferred so far (short transfers continue)
  // Loop thread, once: error 0 and the bytes transferred (fewer than length only at end of
  // file), or the errno that stopped it.
  gnet::UniqueFunction<void(int error, std::size_t done)> finish;
};

class IoDriver {
 public:
  virtual ~IoDriver() = default;
  // "epoll" or "io_uring": for logs and the bench tables.
  virtual const char* name() const noexcept = 0;

  // ---- the turn ----
  // On the loop's own thread, before the first turn (a ring that only one thread may drive
  // is enabled here, as the loop was set up on another).
  virtual void start() {}
  // On the loop's thread, after the last turn: let go of what belongs to this thread (a ring
  // descriptor registered with it), as the driver itself may be destroyed on another.
  virtual void finish() {}
  // Hands the kernel what this turn queued, waits up to timeout_ms (-1: until something
  // happens, 0: not at all) and dispatches everything ready or complete. Calls
  // EventLoop::turn_begins() between the wait and the dispatch (the turn is timed from there).
  virtual void wait_and_dispatch(int timeout_ms) = 0;
  // True while the kernel still holds memory of, or owes completions to, this (closed)
  // connection: the loop keeps the object until it is false.
  virtual bool busy(const Connection&) const noexcept { return false; }

  // ---- the wake-up: the mailbox's eventfd; the driver reports it via EventLoop::on_wakeup ----
  virtual std::error_code watch_wakeup(int fd) = 0;

  // ---- listeners (Acceptor) ----
  virtual std::error_code watch_listener(Listener& listener) = 0;
  // Off while out of descriptors (the acceptor retries later), on again after.
  virtual void set_accepting(Listener& listener, bool on) = 0;
  virtual void forget_listener(Listener& listener) = 0;

  // ---- dials in progress (Dialer) ----
  virtual std::error_code watch_connect(Connecting& pending) = 0;
  virtual void forget_connect(Connecting& pending) = 0;

  // ---- descriptors watched for someone else (FdWatchSet; level-triggered) ----
  // Starts reporting watch.interest (Ready::none: nothing until update_fd).
  virtual std::error_code watch_fd(FdWatch& watch) = 0;
  // watch.interest changed.
  virtual std::error_code update_fd(FdWatch& watch) = 0;
  // No more events for it. The set frees it at the end of the turn, whatever is in flight.
  virtual void forget_fd(FdWatch& watch) = 0;

  // ---- file reads and writes at offsets (gnet::File) ----
  // True when this driver carries them out itself (io_uring); otherwise File runs pread/pwrite
  // on a worker pool and the answer comes back as a posted task.
  virtual bool does_file_io() const noexcept { return false; }
  virtual void submit_file(std::unique_ptr<FileRequest> request) { (void)request; }

  // ---- connections ----
  // Starts delivering input.
  virtual std::error_code open(Connection& conn) = 0;
  // The connection is closing: no more events for it. Its fd is closed right after.
  virtual void forget(Connection& conn) = 0;
  // Connection::reading() or Connection::has_pending_output() may have changed.
  virtual void interest_changed(Connection& conn) = 0;
  // With nothing queued: send now what the kernel takes and say how much. A completion driver
  // takes nothing here (n = 0): the caller queues the bytes and flush() submits them.
  virtual IoResult send_now(Connection& conn, std::string_view data) = 0;
  virtual IoResult sendv_now(Connection& conn, std::span<const std::string_view> parts) = 0;
  // Queued output should go out: now (readiness) or with this turn's submission (completion).
  virtual void flush(Connection& conn) = 0;
  // A clean hang-up while reading is paused (both directions of a socket ended: we shut ours,
  // the peer sent FIN; or a pipe we read from lost its writer): the rest of the peer's bytes
  // and its end wait in the kernel. Stop reporting the hang-up, which a level-triggered poller
  // would repeat every turn, until reading resumes.
  virtual void park(Connection&) {}
  // The connection dropped its queued output (abort): stop sending what is in flight.
  virtual void drop_output(Connection&) {}
  // Reading became possible again after a pause: re-read what no new edge will report
  // (edge-triggered) or re-arm the receive (completion).
  virtual void resume_input(Connection& conn) = 0;
};

}  // namespace gnet::detail
