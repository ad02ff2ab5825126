#include "loop/event_loop.hpp"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <algorithm>
#include <cstring>

#include "conn/connection.hpp"
#include "conn/datagram_socket.hpp"
#include "io/datagram_batch.hpp"
#include "io/driver_factory.hpp"

namespace gnet::detail {

EventLoop::EventLoop(const LoopContext& context, int index)
    : ctx_(context),
      index_(index),
      edge_triggered_(context.options.edge_triggered_io),
      read_buffer_cap_(context.options.read_buffer_cap > 0 ? context.options.read_buffer_cap : 64 * 1024) {}

EventLoop::~EventLoop() {
  datagram_sockets_.clear();  // (the engine owns and closes their descriptors)
  for (Slot& s : slots_) delete s.conn;
  // The driver goes first: tearing it down makes the kernel let go of whatever closed
  // connections it still held (in-flight sends), so they can be destroyed.
  driver_.reset();
  for (Connection* c : retired_) delete c;
  retired_.clear();
  if (!mailbox_ && wake_fd_ >= 0) ::close(wake_fd_);  // else the mailbox owns it
}

Result<void> EventLoop::init() {
  auto driver = make_io_driver(*this);
  if (!driver) return driver.error();
  driver_ = std::move(driver.value());
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return system_error(errno, "eventfd");
  if (auto ec = driver_->watch_wakeup(wake_fd_)) return Error(ec, "watch eventfd: " + ec.message());
  mailbox_ = std::make_shared<Mailbox>(this, index_, wake_fd_);
  read_buffer_ = std::make_unique_for_overwrite<char[]>(read_buffer_cap_);
  return {};
}

Result<void> EventLoop::add_datagram_socket(int fd, int listener_index) {
  const auto slot = kDatagramSlot | static_cast<std::uint32_t>(datagram_sockets_.size());
  auto socket = std::make_unique<DatagramSocket>(*this, fd, listener_index, slot);
  if (auto ec = socket->open()) return Error(ec, "watch udp socket: " + ec.message());
  datagram_sockets_.push_back(std::move(socket));
  return {};
}

DatagramBatch& EventLoop::datagram_batch() {
  if (!datagram_batch_) datagram_batch_ = std::make_unique<DatagramBatch>(*this);
  return *datagram_batch_;
}

DatagramSocket* EventLoop::find_datagram(std::uint32_t slot) noexcept {
  if ((slot & kDatagramSlot) == 0) return nullptr;
  const std::size_t index = slot & ~kDatagramSlot;
  return index < datagram_sockets_.size() ? datagram_sockets_[index].get() : nullptr;
}

void EventLoop::assert_loop_thread() const noexcept {
  [[maybe_unused]] std::thread::id owner = thread_id_.load(std::memory_order_acquire);
  assert((owner == std::thread::id{} || owner == std::this_thread::get_id()) &&
         "must be called on this loop's thread");
}

void EventLoop::run() {
  thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
  driver_->start();
  if (ctx_.options.cpu_affinity) {
    unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<unsigned>(index_) % cores, &set);
      ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
    }
  }
  if (index_ == 0 && ctx_.options.ticker) {
    run_after(std::chrono::nanoseconds(0), [this] { tick(); });
  }
  idle_timeout_ = ctx_.options.idle_timeout;
  turn_begins();  // Loop::now() before the first poll returns
  // The clock is read three times a turn: when the poll returns (turn_start_: Loop::now(),
  // idle bookkeeping), before due timers run, and when the turn ends (its duration, and the
  // next poll's timeout — nothing runs between the two).
  auto turn_end = TimerQueue::Clock::now();
  if (idle_timeout_ > idle_timeout_.zero()) {
    // Sweep a few times per timeout: a connection is closed between 1x and 1.25x idle_timeout.
    auto period = std::max<std::chrono::steady_clock::duration>(idle_timeout_ / 4, std::chrono::milliseconds(5));
    run_every(period, [this] { sweep_idle(); });
  }

  for (;;) {
    // Checked before polling, so a stop requested during on_boot accepts nobody.
    if (!draining_ && ctx_.is_stopping()) begin_drain();
    int timeout = -1;
    if (tasks_left_ || !deferred_resumes_.empty()) {
      timeout = 0;
    } else if (!timers_.empty()) {
      timeout = timers_.timeout_ms(turn_end);
    }
    if ((draining_ || handoff_) && (timeout < 0 || timeout > 10)) timeout = 10;

    driver_->wait_and_dispatch(timeout);  // calls turn_begins() when its wait returns

    if (!deferred_resumes_.empty()) {
      auto resumes = std::move(deferred_resumes_);
      deferred_resumes_.clear();
      for (auto [slot, gen] : resumes) {
        if (Connection* c = find(slot, gen)) c->resume_input();
      }
    }
    if (wake_pending_ || tasks_left_) run_tasks();
    if (!timers_.empty()) timers_.run_due(TimerQueue::Clock::now(), [this](TimerQueue::Callback& fn) { guarded(fn); });
    if (handoff_ && !draining_) {
      if (!handoff_quiet_.load(std::memory_order_relaxed) && acceptor_.quiet()) {
        handoff_quiet_.store(true, std::memory_order_release);
      }
      if (index_ == 0 && ctx_.handoff_check) ctx_.handoff_check();
    }

    if (draining_) {
      if (!deadline_passed_ && TimerQueue::Clock::now() >= drain_deadline_) {
        deadline_passed_ = true;
        for (Slot& s : slots_) {
          if (s.conn != nullptr && !s.conn->closed()) s.conn->abort(make_error_code(Errc::shutdown_deadline));
        }
      }
      destroy_retired();
      // Closed connections whose requests the kernel still holds get a moment to hear back
      // (cancellations answer at once); past the deadline the ring's teardown ends them.
      // File operations in flight hold the caller's buffer: they are waited for the same way.
      bool kernel_done = retired_.empty() && file_ops_.load(std::memory_order_acquire) == 0;
      if (live_ == 0 && (kernel_done || TimerQueue::Clock::now() >= drain_deadline_)) {
        counters_.record_turn(TimerQueue::Clock::now() - turn_start_);
        break;
      }
    } else {
      destroy_retired();
    }
    turn_end = TimerQueue::Clock::now();
    counters_.record_turn(turn_end - turn_start_);
  }

  // Refuse new tasks; the queued ones still run so their callers hear "connection closed".
  std::vector<Mailbox::Task> rest;
  mailbox_->close(rest);
  for (auto& task : rest) {
    LoopCounters::add(counters_.tasks);
    guarded(task);
  }
  destroy_retired();
  watches_.forget_all();
  watches_.collect();
  driver_->finish();
}

EventLoop::Adopted EventLoop::adopt(int fd, Network network, int listener_index, const SocketAddress& remote,
                                    const std::function<void(Connection&)>& prepare) {
  Adopted adopted;
  if (draining_) {
    ::close(fd);
    load_.fetch_sub(1, std::memory_order_relaxed);
    adopted.error = make_error_code(Errc::engine_stopped);
    return adopted;
  }
  auto* conn = new Connection(*this, fd, network, listener_index, remote);
  if (prepare) prepare(*conn);
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  slots_[slot].conn = conn;
  conn->slot = slot;
  conn->generation = slots_[slot].generation;
  ++live_;
  LoopCounters::add(counters_.open);
  LoopCounters::add(listener_index >= 0 ? counters_.accepted : counters_.dialed);
  touch(conn);
  adopted.slot = slot;
  adopted.generation = conn->generation;
  if (!conn->open()) {
    adopted.error = conn->first_error();  // (the connection is retired: read it before the turn ends)
    return adopted;
  }
  adopted.opened = true;
  if (!conn->closed()) adopted.live = conn;
  return adopted;
}

Connection* EventLoop::find(std::uint32_t slot, std::uint32_t generation) noexcept {
  if (slot >= slots_.size()) return nullptr;
  Slot& s = slots_[slot];
  if (s.generation != generation || s.conn == nullptr || s.conn->closed()) return nullptr;
  return s.conn;
}

void EventLoop::retire(Connection* conn) {
  Slot& s = slots_[conn->slot];
  s.conn = nullptr;
  ++s.generation;  // every handle to the old connection now misses
  free_slots_.push_back(conn->slot);
  retired_.push_back(conn);
  --live_;
  LoopCounters::sub(counters_.open);
  LoopCounters::add(counters_.closed);
  load_.fetch_sub(1, std::memory_order_relaxed);
}

void EventLoop::destroy_retired() {
  std::size_t kept = 0;
  for (Connection* c : retired_) {
    if (driver_->busy(*c)) {
      retired_[kept++] = c;  // the kernel still owes it completions: next turn
    } else {
      delete c;
    }
  }
  retired_.resize(kept);
  watches_.collect();
}

void EventLoop::defer_resume(Connection* conn) { deferred_resumes_.emplace_back(conn->slot, conn->generation); }

void EventLoop::log_task_exception(std::exception_ptr thrown) noexcept {
  try {
    std::rethrow_exception(thrown);
  } catch (const std::exception& e) {
    ctx_.log(LogLevel::error, std::string("task or timer threw: ") + e.what());
  } catch (...) {
    ctx_.log(LogLevel::error, "task or timer threw a non-exception");
  }
}

void EventLoop::run_tasks() {
  wake_pending_ = false;
  tasks_left_ = mailbox_->take(urgent_tasks_, normal_tasks_, after_tasks_);
  // Each is counted before it runs, so whoever sees a task's effect also sees it counted.
  for (auto* lane : {&urgent_tasks_, &normal_tasks_, &after_tasks_}) {
    for (auto& task : *lane) {
      LoopCounters::add(counters_.tasks);
      guarded(task);
    }
    lane->clear();
  }
}

void EventLoop::touch(Connection* conn) noexcept {
  if (idle_timeout_ <= idle_timeout_.zero()) return;
  conn->last_active = turn_start_;
  if (idle_tail_ == conn) return;
  untouch(conn);
  conn->idle_prev = idle_tail_;
  if (idle_tail_ != nullptr) idle_tail_->idle_next = conn;
  idle_tail_ = conn;
  if (idle_head_ == nullptr) idle_head_ = conn;
}

void EventLoop::untouch(Connection* conn) noexcept {
  if (conn->idle_prev == nullptr && idle_head_ != conn) return;  // not listed
  if (conn->idle_prev != nullptr) conn->idle_prev->idle_next = conn->idle_next;
  if (conn->idle_next != nullptr) conn->idle_next->idle_prev = conn->idle_prev;
  if (idle_head_ == conn) idle_head_ = conn->idle_next;
  if (idle_tail_ == conn) idle_tail_ = conn->idle_prev;
  conn->idle_prev = conn->idle_next = nullptr;
}

void EventLoop::sweep_idle() {
  auto now = TimerQueue::Clock::now();
  while (idle_head_ != nullptr && now - idle_head_->last_active >= idle_timeout_) {
    Connection* conn = idle_head_;
    untouch(conn);
    conn->request_close(make_error_code(Errc::idle_timeout));
  }
}

void EventLoop::begin_drain() {
  draining_ = true;
  dialer_.fail_all(make_error_code(Errc::engine_stopped));
  drain_deadline_ = TimerQueue::Clock::now() + ctx_.options.shutdown_timeout;
  acceptor_.stop();
  for (auto& d : datagram_sockets_) d->stop_reading();
  for (Slot& s : slots_) {
    if (s.conn != nullptr && !s.conn->closed()) s.conn->request_close({});
  }
}

void EventLoop::begin_handoff() {
  if (handoff_ || draining_) return;
  handoff_ = true;
  acceptor_.retire();
  for (auto& d : datagram_sockets_) d->stop_reading();
}

void EventLoop::tick() {
  if (draining_) return;
  TickResult result;
  try {
    result = ctx_.handler.on_tick();
  } catch (const std::exception& e) {
    ctx_.log(LogLevel::error, std::string("on_tick threw: ") + e.what());
  } catch (...) {
    ctx_.log(LogLevel::error, "on_tick threw a non-exception");
  }
  if (result.action == Action::shutdown) {
    ctx_.request_stop();
    return;
  }
  if (result.delay < std::chrono::nanoseconds::zero()) result.delay = {};
  run_after(result.delay, [this] { tick(); });
}

}  // namespace gnet::detail

// ---- gnet::Loop (the public face) ----
namespace gnet {

using detail::EventLoop;

static EventLoop& self(Loop* loop) { return *static_cast<EventLoop*>(loop); }

int Loop::index() const noexcept { return static_cast<const EventLoop*>(this)->index(); }
std::chrono::steady_clock::time_point Loop::now() const noexcept {
  const auto& loop = *static_cast<const EventLoop*>(this);
  loop.assert_loop_thread();
  return loop.turn_start();
}

const char* Loop::io_backend_name() const noexcept {
  const auto& driver = static_cast<const EventLoop*>(this)->driver_;
  return driver ? driver->name() : "none";
}

bool Loop::in_loop_thread() const noexcept {
  return static_cast<const EventLoop*>(this)->thread_id_.load(std::memory_order_acquire) ==
         std::this_thread::get_id();
}

TimerId Loop::run_after(std::chrono::nanoseconds delay, UniqueFunction<void()> fn) {
  self(this).assert_loop_thread();
  auto when = detail::TimerQueue::Clock::now() + delay;
  return self(this).timers_.add(when, detail::TimerQueue::Clock::duration::zero(), std::move(fn));
}

TimerId Loop::run_every(std::chrono::nanoseconds period, UniqueFunction<void()> fn) {
  self(this).assert_loop_thread();
  if (period <= std::chrono::nanoseconds::zero()) period = std::chrono::milliseconds(1);
  auto when = detail::TimerQueue::Clock::now() + period;
  return self(this).timers_.add(when, period, std::move(fn));
}

bool Loop::cancel(TimerId id) {
  self(this).assert_loop_thread();
  return self(this).timers_.cancel(id);
}

std::error_code Loop::dial(std::string_view address, std::chrono::milliseconds timeout, DialDone on_done) {
  self(this).assert_loop_thread();
  return self(this).dial_from_loop(address, timeout, std::move(on_done));
}

std::error_code Loop::dial(std::string_view address, std::chrono::milliseconds timeout, DialDone on_done,
                           std::any context) {
  self(this).assert_loop_thread();
  return self(this).dial_from_loop(address, timeout, std::move(on_done), std::move(context));
}

Conn* Loop::lookup(const ConnHandle& handle) noexcept {
  EventLoop& loop = self(this);
  loop.assert_loop_thread();
  if (handle.mailbox_ != loop.mailbox()) return nullptr;
  return loop.find(handle.slot_, handle.generation_);
}

Result<WatchId> Loop::watch(int fd, Ready interest, WatchCallback fn) {
  self(this).assert_loop_thread();
  return self(this).watches_.watch(fd, interest, std::move(fn));
}

std::error_code Loop::set_interest(WatchId id, Ready interest) {
  self(this).assert_loop_thread();
  return self(this).watches_.set_interest(id, interest);
}

bool Loop::unwatch(WatchId id) {
  self(this).assert_loop_thread();
  return self(this).watches_.unwatch(id);
}

std::error_code Loop::post(UniqueFunction<void()> fn) {
  if (!self(this).post_task(std::move(fn), false)) return make_error_code(Errc::engine_stopped);
  return {};
}

}  // namespace gnet
