// Internal: one event loop (one thread). Each turn, in this order:
//   1. the driver hands the kernel what the last turn queued and waits (timeout = next timer,
//      0 when tasks or resumes are pending), then dispatches everything ready or complete
//   2. run deferred input resumes (backpressure released during dispatch)
//   3. run posted tasks (urgent lane fully, normal lane at most Mailbox::kBatch)
//   4. run due timers
//   5. destroy connections closed during this turn (those the kernel still holds wait) and
//      free the foreign-descriptor watches unwatched during it
// What is backend-specific lives in the driver (io/io_driver.hpp); accepting in the Acceptor,
// dialing in the Dialer; what the loop needs from its engine in the LoopContext.
#pragma once

#include <any>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <string_view>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "buffer/block_pool.hpp"
#include "gnet/address.hpp"
#include "gnet/conn_handle.hpp"
#include "gnet/loop.hpp"
#include "io/io_driver.hpp"
#include "loop/acceptor.hpp"
#include "loop/dialer.hpp"
#include "loop/fd_watch.hpp"
#include "loop/loop_context.hpp"
#include "loop/mailbox.hpp"
#include "loop/timer_queue.hpp"
#include "metrics/loop_counters.hpp"

namespace gnet::detail {

class Connection;
class DatagramBatch;
class DatagramSocket;

class EventLoop final : public Loop {
 public:
  EventLoop(const LoopContext& context, int index);
  ~EventLoop();

  // Creates the driver and the wake-up eventfd.
  Result<void> init();
  void add_listener(Listener* listener) { acceptor_.add(listener); }
  // Runs until the engine stops and every connection has closed.
  void run();

  // What adopt() did with a descriptor.
  struct Adopted {
    // The connection while it is still open when adopt() returns; nullptr once it has closed
    // (on_open closed it, or the peer's reset arrived with its first read).
    Connection* live = nullptr;
    // True once the connection was opened: on_open ran (or, for tls:// and PROXY, the
    // handshake or header wait began). slot/generation then name it, even after it closed.
    bool opened = false;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    // Why it was never opened: Errc::engine_stopped while draining, or the driver's refusal.
    std::error_code error;
  };
  // Loop thread: takes ownership of a connected socket (or a pipe) and opens a Connection for
  // it; prepare, if given, sets it up before the driver and on_open see it.
  Adopted adopt(int fd, Network network, int listener_index, const SocketAddress& remote,
                    const std::function<void(Connection&)>& prepare = {});
  // Loop thread: Options::idle_timeout bookkeeping (no-ops when it is off).
  void touch(Connection* conn) noexcept;
  void untouch(Connection* conn) noexcept;
  // Loop thread: the Loop::dial implementation.
  std::error_code dial_from_loop(std::string_view address, std::chrono::milliseconds timeout,
                                 Loop::DialDone on_done, std::any context = {}) {
    return dialer_.dial(address, timeout, std::move(on_done), std::move(context));
  }
  // Before run(): serve an unconnected UDP socket (owned by the engine) on this loop.
  Result<void> add_datagram_socket(int fd, int listener_index);
  // Loop thread: the live connection in slot with that generation, or nullptr.
  Connection* find(std::uint32_t slot, std::uint32_t generation) noexcept;
  // Loop thread: the connection has closed; free its slot, destroy it at the end of the turn.
  void retire(Connection* conn);

  // Any thread.
  bool post_task(Mailbox::Task task, bool urgent) { return mailbox_->post(std::move(task), urgent); }
  const std::shared_ptr<Mailbox>& mailbox() const noexcept { return mailbox_; }
  void signal() noexcept { mailbox_->signal(); }
  // Connections assigned to this loop (counted when the balancer picks it). Any thread.
  std::atomic<int>& load() noexcept { return load_; }

  // Loop thread.
  const LoopContext& context() const noexcept { return ctx_; }
  IoDriver& driver() noexcept { return *driver_; }
  Acceptor& acceptor() noexcept { return acceptor_; }
  Dialer& dialer() noexcept { return dialer_; }
  FdWatchSet& watches() noexcept { return watches_; }
  BlockPool& block_pool() noexcept { return block_pool_; }
  char* read_buffer() noexcept { return read_buffer_.get(); }
  // Where TLS connections decrypt into (read_buffer_cap bytes; allocated on first use).
  char* tls_buffer() {
    if (!tls_buffer_) tls_buffer_ = std::make_unique_for_overwrite<char[]>(read_buffer_cap_);
    return tls_buffer_.get();
  }
  std::size_t read_buffer_cap() const noexcept { return read_buffer_cap_; }
  // Batched receive and reply for this loop's unconnected UDP sockets (created on first use).
  DatagramBatch& datagram_batch();
  // The same, or nullptr when no datagram has been read on this loop yet.
  DatagramBatch* datagram_batch_if_any() noexcept { return datagram_batch_.get(); }
  // A shared UDP socket by the slot its handles carry (kDatagramSlot | index), or nullptr.
  DatagramSocket* find_datagram(std::uint32_t slot) noexcept;
  // Handles of shared UDP sockets carry this bit in their slot: find() never matches them (a
  // connection's slot stays far below it), so a connection's write never reaches them by mistake.
  static constexpr std::uint32_t kDatagramSlot = 0x8000'0000u;
  bool draining() const noexcept { return draining_; }
  // Loop thread: the engine handed its listeners over (gnet/upgrade.hpp): stop accepting and
  // serving datagrams, keep serving the open connections.
  void begin_handoff();
  // Any thread: after begin_handoff, nothing more can be accepted on this loop.
  bool handoff_quiet() const noexcept { return handoff_quiet_.load(std::memory_order_acquire); }
  // Options::edge_triggered_io, cached here: it is asked on every read.
  bool edge_triggered() const noexcept { return edge_triggered_; }
  // gnet::File operations answered on this loop and not yet answered: a stopping loop waits
  // for them (up to the shutdown deadline), as the caller's buffer is in use until then.
  // Any thread increments (File::submit), the loop thread decrements.
  std::atomic<int>& file_ops() noexcept { return file_ops_; }
  // Loop thread: run conn->resume_input() after this turn's dispatch (see Connection).
  void defer_resume(Connection* conn);
  // The driver saw the wake-up eventfd fire: run the mailbox's tasks this turn.
  void on_wakeup() noexcept { wake_pending_ = true; }
  // This loop's metrics: written on the loop thread only, read from any (Loop::metrics).
  LoopCounters& counters() noexcept { return counters_; }
  const LoopCounters& counters() const noexcept { return counters_; }
  // The driver calls this when the kernel's wait returns, before it dispatches: the turn's
  // work is timed from here (TurnHistogram).
  void turn_begins() noexcept { turn_start_ = std::chrono::steady_clock::now(); }
  std::chrono::steady_clock::time_point turn_start() const noexcept { return turn_start_; }
  // Runs user code (a task, a timer, a dial callback): an exception is logged, and the
  // loop goes on (on a loop thread it would otherwise end in std::terminate). A template, so a
  // callback with captures is called directly, without a type-erased wrapper per call.
  template <class F>
  void guarded(F&& fn) noexcept {
    try {
      fn();
    } catch (...) {
      log_task_exception(std::current_exception());
    }
  }
  void log_task_exception(std::exception_ptr thrown) noexcept;
  // Debug builds: the calling thread is this loop's (or the loop has not started yet).
  void assert_loop_thread() const noexcept;

  // gnet::Loop
  int index() const noexcept { return index_; }

 private:
  friend class gnet::Loop;
  void sweep_idle();
  void run_tasks();
  void begin_drain();
  void tick();
  void destroy_retired();

  LoopCounters counters_;  // first: its own cache lines, away from the loop's hot fields
  const LoopContext& ctx_;
  const int index_;
  const bool edge_triggered_;
  std::unique_ptr<IoDriver> driver_;
  int wake_fd_ = -1;
  std::shared_ptr<Mailbox> mailbox_;
  bool wake_pending_ = false;
  bool tasks_left_ = false;
  std::vector<Mailbox::Task> urgent_tasks_, normal_tasks_, after_tasks_;

  std::unique_ptr<char[]> read_buffer_;
  std::unique_ptr<char[]> tls_buffer_;
  std::unique_ptr<DatagramBatch> datagram_batch_;
  std::size_t read_buffer_cap_;
  BlockPool block_pool_;
  TimerQueue timers_;
  Acceptor acceptor_{*this};
  Dialer dialer_{*this};
  FdWatchSet watches_{*this};

  struct Slot {
    Connection* conn = nullptr;
    std::uint32_t generation = 1;
  };
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Connection*> retired_;  // closed; destroyed once the driver no longer holds them
  std::vector<std::pair<std::uint32_t, std::uint32_t>> deferred_resumes_;  // (slot, generation)
  std::vector<std::unique_ptr<DatagramSocket>> datagram_sockets_;
  Connection* idle_head_ = nullptr;  // least recently active
  Connection* idle_tail_ = nullptr;
  std::chrono::steady_clock::duration idle_timeout_{};
  std::chrono::steady_clock::time_point turn_start_{};  // when this turn's poll returned (turn_begins)
  std::size_t live_ = 0;  // open connections on this loop
  std::atomic<int> load_{0};
  std::atomic<int> file_ops_{0};
  std::atomic<std::thread::id> thread_id_{};

  bool draining_ = false;
  bool handoff_ = false;
  std::atomic<bool> handoff_quiet_{false};
  std::chrono::steady_clock::time_point drain_deadline_{};
  bool deadline_passed_ = false;
};

}  // namespace gnet::detail
