// Internal: descriptors a loop watches for someone else (Loop::watch): libcurl's or c-ares's
// sockets, an inotify descriptor. The loop only asks the kernel when they are ready and calls
// back; it never reads, writes, closes or changes a flag of one. Level-triggered on every
// backend: epoll registers without EPOLLET; io_uring arms a one-shot poll again after each
// callback while the interest stands, and a one-shot poll armed on a ready descriptor completes
// at once.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "gnet/error.hpp"
#include "gnet/loop.hpp"
#include "loop/io_watcher.hpp"

namespace gnet::detail {

class EventLoop;

struct FdWatch : IoWatcher {
  FdWatch() noexcept : IoWatcher(Kind::foreign) {}
  int fd = -1;
  WatchId id = 0;
  Ready interest = Ready::none;
  bool dead = false;                // unwatched: no callback any more; freed at the end of the turn
  bool registered = false;          // the driver holds a registration (readiness drivers)
  void* driver_token = nullptr;     // the driver's handle on its armed poll (completion drivers)
  Loop::WatchCallback callback;
};

class FdWatchSet {
 public:
  explicit FdWatchSet(EventLoop& loop) noexcept : loop_(loop) {}
  ~FdWatchSet();

  Result<WatchId> watch(int fd, Ready interest, Loop::WatchCallback fn);
  std::error_code set_interest(WatchId id, Ready interest);
  bool unwatch(WatchId id);
  // The driver saw events on a watch: run its callback (unless it was unwatched meanwhile).
  void ready(FdWatch& watch, Ready events);
  // End of the turn: free the watches unwatched during it (a readiness batch may still have
  // held an event that pointed at one).
  void collect();
  // The loop ends: the driver lets go of every watch (descriptors stay open).
  void forget_all();

 private:
  EventLoop& loop_;
  WatchId next_id_ = 1;
  std::unordered_map<WatchId, std::unique_ptr<FdWatch>> by_id_;
  std::unordered_map<int, FdWatch*> by_fd_;
  std::vector<std::unique_ptr<FdWatch>> dead_;
};

}  // namespace gnet::detail
