// Internal: the readiness driver — a Poller (epoll on Linux; kqueue would be a poller file
// beside epoll.cpp) plus the calls that readiness implies: the driver hears "readable" or
// "writable" and reads, accepts or flushes right away (io/readiness_io.hpp).
//
// Level-triggered by default: interest follows Connection::reading() and pending output, one
// epoll_ctl per change. Options::edge_triggered_io registers read and write interest once and
// never changes it; a connection then reads until a short read, and a paused one re-reads on
// resume (no new edge reports bytes that are already there).
#pragma once

#include <memory>

#include "gnet/error.hpp"
#include "io/io_driver.hpp"
#include "loop/io_watcher.hpp"
#include "poller/poller.hpp"

namespace gnet::detail {

class EventLoop;

class ReadinessDriver final : public IoDriver {
 public:
  static Result<std::unique_ptr<IoDriver>> create(EventLoop& loop);

  const char* name() const noexcept override { return "epoll"; }
  void wait_and_dispatch(int timeout_ms) override;

  std::error_code watch_wakeup(int fd) override;
  std::error_code watch_listener(Listener& listener) override;
  void set_accepting(Listener& listener, bool on) override;
  void forget_listener(Listener& listener) override;
  std::error_code watch_connect(Connecting& pending) override;
  void forget_connect(Connecting& pending) override;

  std::error_code watch_fd(FdWatch& watch) override;
  std::error_code update_fd(FdWatch& watch) override;
  void forget_fd(FdWatch& watch) override;

  std::error_code open(Connection& conn) override;
  void forget(Connection& conn) override;
  void interest_changed(Connection& conn) override;
  IoResult send_now(Connection& conn, std::string_view data) override;
  IoResult sendv_now(Connection& conn, std::span<const std::string_view> parts) override;
  void flush(Connection& conn) override;
  void resume_input(Connection& conn) override;
  void park(Connection& conn) override;

 private:
  ReadinessDriver(EventLoop& loop, Poller* poller) noexcept;
  void dispatch(const PollEvent& event);

  EventLoop& loop_;
  const bool edge_;
  std::unique_ptr<Poller> poller_;
  IoWatcher wakeup_{IoWatcher::Kind::wakeup};
  int wake_fd_ = -1;
};

}  // namespace gnet::detail
