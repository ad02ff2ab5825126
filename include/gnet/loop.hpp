// gnet/loop.hpp — one event loop: a thread that polls, dispatches callbacks, runs posted tasks
// and timers, in that order, every turn.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <system_error>

namespace gnet {

// Identifies a timer on its loop; 0 is never a valid id.
using TimerId = std::uint64_t;

class Loop {
 public:
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // This loop's position among the engine's loops (0-based).
  int index() const noexcept;

  // True on this loop's own thread.
  bool in_loop_thread() const noexcept;

  // Timers. Must be called on this loop's thread. fn runs on this loop's thread. A heap keeps
  // them: O(log n) to add, cancel is O(1) (the entry is skipped when it surfaces).
  TimerId run_after(std::chrono::nanoseconds delay, std::function<void()> fn);
  TimerId run_every(std::chrono::nanoseconds period, std::function<void()> fn);
  // Returns false if the timer already fired (one-shot) or was cancelled.
  bool cancel(TimerId id);

  // Run fn on this loop's thread soon. Safe from any thread. Returns Errc::engine_stopped once
  // the loop has stopped (fn is then dropped without running).
  std::error_code post(std::function<void()> fn);

 protected:
  Loop() = default;
  ~Loop() = default;
};

}  // namespace gnet
