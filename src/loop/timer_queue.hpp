// Internal: a loop's timers in a binary min-heap. Add is O(log n); cancel is O(1) — it only
// forgets the callback, and the stale heap entry is skipped when it reaches the top.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "gnet/unique_function.hpp"

namespace gnet::detail {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = UniqueFunction<void()>;

  std::uint64_t add(Clock::time_point when, Clock::duration period, Callback fn);
  bool cancel(std::uint64_t id);
  bool empty() const noexcept { return live_.empty(); }
  std::size_t size() const noexcept { return live_.size(); }

  // Milliseconds until the earliest timer (rounded up), or -1 when there is none.
  int timeout_ms(Clock::time_point now);
  // Runs every timer due at `now` through invoke(fn); periodic ones are re-armed from their
  // deadline (or from now when the loop fell behind).
  void run_due(Clock::time_point now, const std::function<void(Callback&)>& invoke);
  void run_due(Clock::time_point now) {
    run_due(now, [](Callback& fn) { fn(); });
  }

 private:
  struct Entry {
    Clock::time_point when;
    std::uint64_t id;
    bool operator>(const Entry& other) const noexcept {
      return when != other.when ? when > other.when : id > other.id;
    }
  };
  struct Timer {
    Clock::duration period;
    Callback fn;
  };
  void drop_cancelled_top();

  std::vector<Entry> heap_;
  std::unordered_map<std::uint64_t, Timer> live_;
  std::uint64_t next_id_ = 1;
};

}  // namespace gnet::detail
