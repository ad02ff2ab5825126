#include "loop/event_loop.hpp"

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "conn/connection.hpp"
#include "engine/engine_core.hpp"
#include "net/socket.hpp"

namespace gnet::detail {
namespace {

constexpr int kAcceptBurst = 64;  // accepts per readiness event, so one listener can't starve I/O
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);  // after EMFILE

}  // namespace

EventLoop::EventLoop(EngineCore& engine, int index)
    : engine_(engine),
      index_(index),
      edge_triggered_(engine.options().edge_triggered_io),
      read_buffer_cap_(engine.options().read_buffer_cap > 0 ? engine.options().read_buffer_cap : 64 * 1024) {}

EventLoop::~EventLoop() {
  for (auto& pending : connecting_) ::close(pending->fd);
  for (auto& d : datagram_sockets_) d->release_fd();
  datagram_sockets_.clear();
  for (Slot& s : slots_) delete s.conn;
  destroy_retired();
  if (!mailbox_ && wake_fd_ >= 0) ::close(wake_fd_);  // else the mailbox owns it
}

Result<void> EventLoop::init() {
  auto poller = Poller::create();
  if (!poller) return poller.error();
  poller_.reset(poller.value());
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return system_error(errno, "eventfd");
  if (auto ec = poller_->add(wake_fd_, &wakeup_, kReadable)) {
    return Error(ec, "epoll_ctl add eventfd: " + ec.message());
  }
  mailbox_ = std::make_shared<Mailbox>(this, index_, wake_fd_);
  read_buffer_ = std::make_unique_for_overwrite<char[]>(read_buffer_cap_);
  return {};
}

void EventLoop::add_listener(Listener* listener) {
  listeners_.push_back(listener);
  if (auto ec = poller_->add(listener->fd, listener, kReadable)) {
    engine_.log(LogLevel::error, "epoll_ctl add listener: " + ec.message());
  }
}

Result<void> EventLoop::add_datagram_socket(int fd, int listener_index) {
  auto conn = std::make_unique<Connection>(*this, fd, Network::udp, listener_index, SocketAddress{});
  if (auto ec = conn->open_datagram()) {
    conn->release_fd();
    return Error(ec, "epoll_ctl add udp socket: " + ec.message());
  }
  datagram_sockets_.push_back(std::move(conn));
  return {};
}

void EventLoop::run() {
  thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
  if (engine_.options().cpu_affinity) {
    unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<unsigned>(index_) % cores, &set);
      ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
    }
  }
  if (index_ == 0 && engine_.options().ticker) {
    run_after(std::chrono::nanoseconds(0), [this] { tick(); });
  }
  idle_timeout_ = engine_.options().idle_timeout;
  turn_time_ = TimerQueue::Clock::now();
  if (idle_timeout_ > idle_timeout_.zero()) {
    // Sweep a few times per timeout: a connection is closed between 1x and 1.25x idle_timeout.
    auto period = std::max<std::chrono::steady_clock::duration>(idle_timeout_ / 4, std::chrono::milliseconds(5));
    run_every(period, [this] { sweep_idle(); });
  }

  PollEvent events[Poller::kMaxEvents];
  for (;;) {
    // Checked before polling, so a stop requested during on_boot accepts nobody.
    if (!draining_ && engine_.is_stopping()) begin_drain();
    int timeout = -1;
    if (tasks_left_ || !deferred_resumes_.empty()) {
      timeout = 0;
    } else if (!timers_.empty()) {
      timeout = timers_.timeout_ms(TimerQueue::Clock::now());
    }
    if (draining_ && (timeout < 0 || timeout > 10)) timeout = 10;

    int n = poller_->wait(events, Poller::kMaxEvents, timeout);
    if (idle_timeout_ > idle_timeout_.zero()) turn_time_ = TimerQueue::Clock::now();
    for (int i = 0; i < n; ++i) dispatch(events[i]);

    if (!deferred_resumes_.empty()) {
      auto resumes = std::move(deferred_resumes_);
      deferred_resumes_.clear();
      for (auto [slot, gen] : resumes) {
        if (Connection* c = find(slot, gen)) c->resume_input();
      }
    }
    if (wake_pending_ || tasks_left_) run_tasks();
    if (!timers_.empty()) timers_.run_due(TimerQueue::Clock::now(), [this](const std::function<void()>& fn) { guarded(fn); });

    if (draining_) {
      if (!deadline_passed_ && TimerQueue::Clock::now() >= drain_deadline_) {
        deadline_passed_ = true;
        for (Slot& s : slots_) {
          if (s.conn != nullptr && !s.conn->closed()) s.conn->abort(make_error_code(Errc::shutdown_deadline));
        }
      }
      destroy_retired();
      if (live_ == 0) break;
    } else {
      destroy_retired();
    }
  }

  // Refuse new tasks; the queued ones still run so their callers hear "connection closed".
  std::vector<Mailbox::Task> rest;
  mailbox_->close(rest);
  for (auto& task : rest) guarded(task);
  destroy_retired();
}

void EventLoop::dispatch(const PollEvent& event) {
  auto* watcher = static_cast<IoWatcher*>(event.token);
  switch (watcher->kind) {
    case IoWatcher::Kind::connection:
      static_cast<Connection*>(watcher)->handle_event(event.events);
      break;
    case IoWatcher::Kind::listener:
      accept_from(*static_cast<Listener*>(watcher));
      break;
    case IoWatcher::Kind::wakeup: {
      std::uint64_t count;
      [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
      wake_pending_ = true;
      break;
    }
    case IoWatcher::Kind::connecting: {
      auto* pending = static_cast<Connecting*>(watcher);
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(pending->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      finish_connect(pending, err ? std::error_code(err, std::system_category()) : std::error_code{});
      break;
    }
  }
}

void EventLoop::accept_from(Listener& listener) {
  for (int i = 0; i < kAcceptBurst && !draining_; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        pause_listener(listener, err);
        return;
      }
      engine_.log(LogLevel::error, std::string("accept: ") + std::strerror(err));
      return;
    }
    listener.warned = false;
    SocketAddress remote(reinterpret_cast<sockaddr*>(&ss), len);
    apply_connection_options(fd, listener.network == Network::tcp, engine_.options());
    EventLoop& target = listener.distribute ? engine_.pick_loop(remote) : *this;
    if (!listener.distribute) load_.fetch_add(1, std::memory_order_relaxed);
    if (&target == this) {
      adopt(fd, listener.network, listener.index, remote);
      continue;
    }
    Network network = listener.network;
    int index = listener.index;
    EventLoop* dest = &target;
    bool posted = target.post_task([dest, fd, network, index, remote] {
      dest->adopt(fd, network, index, remote);
    }, true);
    if (!posted) {
      target.load_.fetch_sub(1, std::memory_order_relaxed);
      ::close(fd);
    }
  }
}

// Out of descriptors (or kernel memory). Spinning on accept would burn a core: stop watching
// the listener and look again shortly. Pending connections wait in the backlog meanwhile
// instead of being accepted and dropped.
void EventLoop::pause_listener(Listener& listener, int err) {
  if (listener.paused) return;
  listener.paused = true;
  if (!listener.warned) {  // once per episode, not once per retry
    listener.warned = true;
    engine_.log(LogLevel::warn, std::string("accept paused: ") + std::strerror(err) +
                                    "; retrying every " + std::to_string(kAcceptRetry.count()) + " ms");
  }
  poller_->modify(listener.fd, &listener, 0);
  Listener* l = &listener;
  run_after(kAcceptRetry, [this, l] {
    l->paused = false;
    if (draining_) return;
    poller_->modify(l->fd, l, kReadable);  // level-triggered: fires at once if the backlog is non-empty
  });
}

Connection* EventLoop::adopt(int fd, Network network, int listener_index, const SocketAddress& remote,
                             bool connected_datagram) {
  if (draining_) {
    ::close(fd);
    load_.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  auto* conn = new Connection(*this, fd, network, listener_index, remote);
  if (connected_datagram) conn->set_connected_datagram();
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
  touch(conn);
  if (!conn->open()) return nullptr;
  return conn->closed() ? nullptr : conn;
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
  load_.fetch_sub(1, std::memory_order_relaxed);
}

void EventLoop::destroy_retired() {
  for (Connection* c : retired_) delete c;
  retired_.clear();
}

void EventLoop::defer_resume(Connection* conn) { deferred_resumes_.emplace_back(conn->slot, conn->generation); }

// Posted tasks, timers and dial callbacks are user code too: an exception is logged, and the
// loop goes on (on a loop thread it would otherwise end in std::terminate).
void EventLoop::guarded(const std::function<void()>& fn) noexcept {
  try {
    fn();
  } catch (const std::exception& e) {
    engine_.log(LogLevel::error, std::string("task or timer threw: ") + e.what());
  } catch (...) {
    engine_.log(LogLevel::error, "task or timer threw a non-exception");
  }
}

void EventLoop::run_tasks() {
  wake_pending_ = false;
  tasks_left_ = mailbox_->take(urgent_tasks_, normal_tasks_, after_tasks_);
  for (auto& task : urgent_tasks_) guarded(task);
  urgent_tasks_.clear();
  for (auto& task : normal_tasks_) guarded(task);
  normal_tasks_.clear();
  for (auto& task : after_tasks_) guarded(task);
  after_tasks_.clear();
}

void EventLoop::touch(Connection* conn) noexcept {
  if (idle_timeout_ <= idle_timeout_.zero()) return;
  conn->last_active = turn_time_;
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

std::error_code EventLoop::dial_from_loop(std::string_view address, std::chrono::milliseconds timeout,
                                          Loop::DialDone on_done) {
  auto fail = [&](std::error_code ec) {
    if (on_done) on_done(ec, ConnHandle{});
    return ec;
  };
  if (draining_) return fail(make_error_code(Errc::engine_stopped));
  auto parsed = parse_address(address);
  if (!parsed) return fail(parsed.error().code());
  const Address& addr = parsed.value();
  SocketAddress target;
  if (addr.is_ip()) {
    auto resolved = resolve(addr, false);
    if (!resolved) return fail(resolved.error().code());
    target = resolved->front();
  } else {
    target = unix_socket_address(addr);
  }
  int fd = ::socket(target.family(), socket_type(addr.network) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail({errno, std::system_category()});
  apply_connection_options(fd, addr.network == Network::tcp, engine_.options());
  auto pending = std::make_unique<Connecting>();
  pending->fd = fd;
  pending->network = addr.network;
  pending->remote = target;
  Connecting* p = pending.get();
  bool connected = ::connect(fd, target.data(), target.size()) == 0;
  // EAGAIN from a Unix socket means its listener's backlog is full: a failure, not progress.
  std::error_code ec;
  if (!connected && errno != EINPROGRESS) ec.assign(errno, std::system_category());
  if (!connected && !ec) ec = poller_->add(fd, p, kWritable);
  if (ec) {
    ::close(fd);
    return fail(ec);
  }
  p->on_done = std::move(on_done);
  connecting_.push_back(std::move(pending));
  if (connected) {
    finish_connect(p, {});
    return {};
  }
  p->timer = run_after(timeout, [this, p] {
    p->timer = 0;
    finish_connect(p, make_error_code(Errc::timed_out));
  });
  return {};
}

void EventLoop::finish_connect(Connecting* pending, std::error_code error) {
  auto it = std::find_if(connecting_.begin(), connecting_.end(), [&](auto& p) { return p.get() == pending; });
  if (it == connecting_.end()) return;
  std::unique_ptr<Connecting> owned = std::move(*it);
  connecting_.erase(it);
  if (owned->timer != 0) cancel(owned->timer);
  poller_->remove(owned->fd);  // harmless when it was never added (immediate connect)
  if (error) {
    ::close(owned->fd);
    if (owned->on_done) guarded([&] { owned->on_done(error, ConnHandle{}); });
    return;
  }
  load_.fetch_add(1, std::memory_order_relaxed);
  Connection* conn = adopt(owned->fd, owned->network, -1, owned->remote, owned->network == Network::udp);
  if (owned->on_done) {
    ConnHandle handle = conn ? ConnHandle(mailbox_, conn->slot, conn->generation) : ConnHandle{};
    std::error_code ec = conn ? std::error_code{} : make_error_code(Errc::connection_closed);
    guarded([&] { owned->on_done(ec, handle); });
  }
}

void EventLoop::begin_drain() {
  draining_ = true;
  while (!connecting_.empty()) finish_connect(connecting_.front().get(), make_error_code(Errc::engine_stopped));
  drain_deadline_ = TimerQueue::Clock::now() + engine_.options().shutdown_timeout;
  for (Listener* l : listeners_) poller_->remove(l->fd);
  for (auto& d : datagram_sockets_) poller_->remove(d->fd());
  for (Slot& s : slots_) {
    if (s.conn != nullptr && !s.conn->closed()) s.conn->request_close({});
  }
}

void EventLoop::tick() {
  if (draining_) return;
  TickResult result;
  try {
    result = engine_.handler().on_tick();
  } catch (const std::exception& e) {
    engine_.log(LogLevel::error, std::string("on_tick threw: ") + e.what());
  } catch (...) {
    engine_.log(LogLevel::error, "on_tick threw a non-exception");
  }
  if (result.action == Action::shutdown) {
    engine_.request_stop();
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

bool Loop::in_loop_thread() const noexcept {
  return static_cast<const EventLoop*>(this)->thread_id_.load(std::memory_order_acquire) ==
         std::this_thread::get_id();
}

TimerId Loop::run_after(std::chrono::nanoseconds delay, std::function<void()> fn) {
  auto when = detail::TimerQueue::Clock::now() + delay;
  return self(this).timers_.add(when, detail::TimerQueue::Clock::duration::zero(), std::move(fn));
}

TimerId Loop::run_every(std::chrono::nanoseconds period, std::function<void()> fn) {
  if (period <= std::chrono::nanoseconds::zero()) period = std::chrono::milliseconds(1);
  auto when = detail::TimerQueue::Clock::now() + period;
  return self(this).timers_.add(when, period, std::move(fn));
}

bool Loop::cancel(TimerId id) { return self(this).timers_.cancel(id); }

std::error_code Loop::dial(std::string_view address, std::chrono::milliseconds timeout, DialDone on_done) {
  return self(this).dial_from_loop(address, timeout, std::move(on_done));
}

Conn* Loop::lookup(const ConnHandle& handle) noexcept {
  EventLoop& loop = self(this);
  if (handle.mailbox_ != loop.mailbox()) return nullptr;
  return loop.find(handle.slot_, handle.generation_);
}

std::error_code Loop::post(std::function<void()> fn) {
  if (!self(this).post_task(std::move(fn), false)) return make_error_code(Errc::engine_stopped);
  return {};
}

}  // namespace gnet
