// Internal: one loop's metrics as it keeps them. Only the loop's own thread writes them; any
// thread may read them (gnet::Loop::metrics). Each is a std::atomic so that the reads are not
// data races, but a write is a relaxed load plus a relaxed store of the new value, never a
// read-modify-write: with a single writer nothing is lost, and on x86 it compiles to a plain add
// (no lock prefix). One block per loop, cache-line aligned, so the loops' counters never share
// a line; no connection carries a counter of its own.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>

#include "gnet/metrics.hpp"

namespace gnet::detail {

class alignas(64) LoopCounters {
 public:
  using Counter = std::atomic<std::uint64_t>;

  // Loop thread only (single writer).
  static void add(Counter& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Gauges: the loop only takes away what it added before, so they never go below zero.
  static void sub(Counter& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }

  // Loop thread: one turn took `d` (counted into its log2 microsecond bucket).
  void record_turn(std::chrono::steady_clock::duration d) noexcept {
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()));
    const std::uint64_t us = (ns + 999) / 1000;  // rounded up: a bucket's bound is inclusive
    int i = us <= 1 ? 0 : static_cast<int>(std::bit_width(us - 1));
    if (i > TurnHistogram::kBounds) i = TurnHistogram::kBounds;
    add(turn_buckets[static_cast<std::size_t>(i)]);
    add(turn_sum_ns, ns);
  }

  // Any thread.
  LoopMetrics read(int loop) const noexcept;

  Counter open{0};
  Counter accepted{0};
  Counter dialed{0};
  Counter closed{0};
  Counter closed_error{0};
  Counter bytes_in{0};
  Counter bytes_out{0};
  Counter messages_in{0};
  Counter messages_out{0};
  Counter queued{0};
  Counter paused{0};
  Counter emfile{0};
  Counter tasks{0};
  Counter datagrams_dropped{0};
  Counter turn_sum_ns{0};
  Counter turn_buckets[TurnHistogram::kBounds + 1]{};
};

}  // namespace gnet::detail
