#include "io/readiness_driver.hpp"

#include <unistd.h>

#include <cstdint>
#include <string>

#include "conn/connection.hpp"
#include "io/readiness_io.hpp"
#include "loop/event_loop.hpp"
#include "loop/fd_watch.hpp"

namespace gnet::detail {

Result<std::unique_ptr<IoDriver>> ReadinessDriver::create(EventLoop& loop) {
  auto poller = Poller::create();
  if (!poller) return poller.error();
  return std::unique_ptr<IoDriver>(new ReadinessDriver(loop, poller.value()));
}

ReadinessDriver::ReadinessDriver(EventLoop& loop, Poller* poller) noexcept
    : loop_(loop), edge_(loop.edge_triggered()), poller_(poller) {}

void ReadinessDriver::wait_and_dispatch(int timeout_ms) {
  PollEvent events[Poller::kMaxEvents];
  int n = poller_->wait(events, Poller::kMaxEvents, timeout_ms);
  loop_.turn_begins();
  for (int i = 0; i < n; ++i) dispatch(events[i]);
}

void ReadinessDriver::dispatch(const PollEvent& event) {
  auto* watcher = static_cast<IoWatcher*>(event.token);
  switch (watcher->kind) {
    case IoWatcher::Kind::connection:
      readiness::on_event(*static_cast<Connection*>(watcher), event.events, edge_);
      break;
    case IoWatcher::Kind::listener:
      loop_.acceptor().accept_ready(*static_cast<Listener*>(watcher));
      break;
    case IoWatcher::Kind::wakeup: {
      std::uint64_t count;
      [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
      loop_.on_wakeup();
      break;
    }
    case IoWatcher::Kind::connecting:
      loop_.dialer().connect_ready(*static_cast<Connecting*>(watcher));
      break;
    case IoWatcher::Kind::foreign: {
      Ready ready = Ready::none;
      if (event.events & kReadable) ready = ready | Ready::readable;
      if (event.events & kWritable) ready = ready | Ready::writable;
      if (event.events & kHangup) ready = ready | Ready::hangup;
      loop_.watches().ready(*static_cast<FdWatch*>(watcher), ready);
      break;
    }
  }
}

std::error_code ReadinessDriver::watch_wakeup(int fd) {
  wake_fd_ = fd;
  return poller_->add(fd, &wakeup_, kReadable);
}

std::error_code ReadinessDriver::watch_listener(Listener& listener) {
  return poller_->add(listener.fd, static_cast<IoWatcher*>(&listener), kReadable);
}

void ReadinessDriver::set_accepting(Listener& listener, bool on) {
  // Level-triggered: turning it back on reports at once when the backlog is non-empty.
  poller_->modify(listener.fd, static_cast<IoWatcher*>(&listener), on ? kReadable : 0u);
}

void ReadinessDriver::forget_listener(Listener& listener) { poller_->remove(listener.fd); }

std::error_code ReadinessDriver::watch_connect(Connecting& pending) {
  return poller_->add(pending.fd, static_cast<IoWatcher*>(&pending), kWritable);
}

void ReadinessDriver::forget_connect(Connecting& pending) { poller_->remove(pending.fd); }

static std::uint32_t poll_bits(Ready interest) noexcept {
  return (has(interest, Ready::readable) ? kReadable : 0u) | (has(interest, Ready::writable) ? kWritable : 0u);
}

// Registered only while something is asked: epoll reports a hang-up even to a registration that
// asks for nothing, which level-triggered would repeat every turn.
std::error_code ReadinessDriver::watch_fd(FdWatch& watch) { return update_fd(watch); }

std::error_code ReadinessDriver::update_fd(FdWatch& watch) {
  std::uint32_t bits = poll_bits(watch.interest);
  if (bits == 0) {
    if (watch.registered) poller_->remove(watch.fd);
    watch.registered = false;
    return {};
  }
  auto* token = static_cast<IoWatcher*>(&watch);
  if (auto ec = watch.registered ? poller_->modify(watch.fd, token, bits) : poller_->add(watch.fd, token, bits)) return ec;
  watch.registered = true;
  return {};
}

void ReadinessDriver::forget_fd(FdWatch& watch) {
  // The descriptor may be closed already (the registration went with it): nothing to report.
  if (watch.registered) poller_->remove(watch.fd);
  watch.registered = false;
}

std::error_code ReadinessDriver::open(Connection& conn) {
  // (A pipe's write end reads nothing: it is registered for nothing until output queues, and
  // epoll still reports its reader leaving.)
  std::uint32_t interest = edge_ ? (kReadable | kWritable | kEdge | kPeerShut) : conn.reading() ? kReadable : 0u;
  if (auto ec = poller_->add(conn.fd(), static_cast<IoWatcher*>(&conn), interest)) return ec;
  conn.io.registered = true;
  conn.io.interest = interest;
  return {};
}

void ReadinessDriver::forget(Connection& conn) {
  if (conn.io.registered) poller_->remove(conn.fd());
  conn.io.registered = false;
}

void ReadinessDriver::park(Connection& conn) {
  if (conn.io.registered) poller_->remove(conn.fd());
  conn.io.registered = false;
  conn.io.parked = true;
}

void ReadinessDriver::interest_changed(Connection& conn) {
  if (conn.io.parked) {
    if (conn.closed() || !conn.reading()) return;
    // Reading again: back on the poller, which reports the waiting bytes (and the end) at once.
    std::uint32_t interest = edge_ ? (kReadable | kWritable | kEdge | kPeerShut) : kReadable;
    if (auto ec = poller_->add(conn.fd(), static_cast<IoWatcher*>(&conn), interest)) {
      conn.abort(ec);
      return;
    }
    conn.io.parked = false;
    conn.io.registered = true;
    conn.io.interest = interest;
    return;
  }
  if (conn.closed() || !conn.io.registered || edge_) return;
  std::uint32_t want = (conn.reading() ? kReadable : 0u) | (conn.has_pending_output() ? kWritable : 0u);
  if (want == conn.io.interest) return;
  if (auto ec = poller_->modify(conn.fd(), static_cast<IoWatcher*>(&conn), want)) {
    conn.abort(ec);
    return;
  }
  conn.io.interest = want;
}

IoResult ReadinessDriver::send_now(Connection& conn, std::string_view data) {
  return readiness::send(conn, data);
}

IoResult ReadinessDriver::sendv_now(Connection& conn, std::span<const std::string_view> parts) {
  return readiness::sendv(conn, parts);
}

void ReadinessDriver::flush(Connection& conn) { readiness::write(conn); }

void ReadinessDriver::resume_input(Connection& conn) {
  if (edge_ && !conn.closed() && conn.reading()) readiness::read(conn, true, true);
}

}  // namespace gnet::detail
