#include "loop/fd_watch.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <exception>
#include <string>

#include "loop/event_loop.hpp"

namespace gnet::detail {

namespace {
constexpr Ready kAskable = Ready::readable | Ready::writable;
}

FdWatchSet::~FdWatchSet() = default;

Result<WatchId> FdWatchSet::watch(int fd, Ready interest, Loop::WatchCallback fn) {
  const std::string what = "watch fd " + std::to_string(fd);
  if (!fn) return Error(std::make_error_code(std::errc::invalid_argument), what + ": no callback");
  // Only asks: F_GETFD and fstat read nothing from the descriptor and change none of its flags.
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) return system_error(fd < 0 ? EBADF : errno, what);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
    return Error(std::make_error_code(std::errc::operation_not_permitted),
                 what + ": a regular file or directory is always ready; read it with gnet::File");
  }
  if (by_fd_.contains(fd)) {
    return Error(std::make_error_code(std::errc::file_exists), what + ": already watched on this loop");
  }
  auto w = std::make_unique<FdWatch>();
  w->fd = fd;
  w->id = next_id_++;
  w->interest = interest & kAskable;
  w->callback = std::move(fn);
  if (auto ec = loop_.driver().watch_fd(*w)) return Error(ec, what + ": " + ec.message());
  WatchId id = w->id;
  by_fd_.emplace(fd, w.get());
  by_id_.emplace(id, std::move(w));
  return id;
}

std::error_code FdWatchSet::set_interest(WatchId id, Ready interest) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::make_error_code(std::errc::invalid_argument);
  FdWatch& w = *it->second;
  interest = interest & kAskable;
  if (interest == w.interest) return {};
  w.interest = interest;
  return loop_.driver().update_fd(w);
}

bool FdWatchSet::unwatch(WatchId id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  std::unique_ptr<FdWatch> w = std::move(it->second);
  by_id_.erase(it);
  by_fd_.erase(w->fd);
  w->dead = true;
  loop_.driver().forget_fd(*w);
  // Kept to the end of the turn: the callback running now may be this watch's own, and a
  // readiness batch may still hold an event that points here.
  dead_.push_back(std::move(w));
  return true;
}

void FdWatchSet::ready(FdWatch& w, Ready events) {
  if (w.dead) return;
  events = events & (w.interest | Ready::hangup);
  if (events == Ready::none) return;
  try {
    w.callback(events);
  } catch (const std::exception& e) {
    loop_.context().log(LogLevel::error, "watch callback for fd " + std::to_string(w.fd) + " threw: " + e.what());
  } catch (...) {
    loop_.context().log(LogLevel::error, "watch callback for fd " + std::to_string(w.fd) + " threw a non-exception");
  }
}

void FdWatchSet::collect() { dead_.clear(); }

void FdWatchSet::forget_all() {
  for (auto& [id, w] : by_id_) {
    w->dead = true;
    loop_.driver().forget_fd(*w);
    dead_.push_back(std::move(w));
  }
  by_id_.clear();
  by_fd_.clear();
}

}  // namespace gnet::detail
