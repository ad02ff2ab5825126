#include "loop/timer_queue.hpp"

#include <algorithm>

namespace gnet::detail {

std::uint64_t TimerQueue::add(Clock::time_point when, Clock::duration period, Callback fn) {
  std::uint64_t id = next_id_++;
  live_.emplace(id, Timer{period, std::move(fn)});
  heap_.push_back({when, id});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
  return id;
}

bool TimerQueue::cancel(std::uint64_t id) { return live_.erase(id) > 0; }

void TimerQueue::drop_cancelled_top() {
  while (!heap_.empty() && !live_.contains(heap_.front().id)) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    heap_.pop_back();
  }
}

int TimerQueue::timeout_ms(Clock::time_point now) {
  drop_cancelled_top();
  if (heap_.empty()) return -1;
  auto wait = heap_.front().when - now;
  if (wait <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return static_cast<int>(std::min<long long>(ms, 24LL * 3600 * 1000));
}

void TimerQueue::run_due(Clock::time_point now, const std::function<void(Callback&)>& invoke) {
  for (;;) {
    drop_cancelled_top();
    if (heap_.empty() || heap_.front().when > now) return;
    Entry entry = heap_.front();
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    heap_.pop_back();
    auto it = live_.find(entry.id);
    if (it->second.period > Clock::duration::zero()) {
      // Re-arm first so the callback may cancel its own periodic timer. The callback is moved
      // out while it runs (it is move-only, and the callback may cancel, erasing its entry) and
      // put back afterwards if the timer is still live.
      Callback fn = std::move(it->second.fn);
      // A late loop does not fire a burst of catch-up ticks: the next one is a period from now.
      Clock::time_point next = entry.when + it->second.period;
      if (next <= now) next = now + it->second.period;
      heap_.push_back({next, entry.id});
      std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
      invoke(fn);
      if (auto again = live_.find(entry.id); again != live_.end()) again->second.fn = std::move(fn);
    } else {
      Callback fn = std::move(it->second.fn);
      live_.erase(it);
      invoke(fn);
    }
  }
}

}  // namespace gnet::detail
