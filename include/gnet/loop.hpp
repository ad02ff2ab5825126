// gnet/loop.hpp — one event loop: a thread that polls, dispatches callbacks, runs posted tasks
// and timers, in that order, every turn.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <system_error>

namespace gnet {

class Conn;
class ConnHandle;

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

  // "epoll" or "io_uring": the backend this loop's I/O runs on. Any thread.
  const char* io_backend_name() const noexcept;

  // Timers. Must be called on this loop's thread. fn runs on this loop's thread. A heap keeps
  // them: O(log n) to add, cancel is O(1) (the entry is skipped when it surfaces).
  TimerId run_after(std::chrono::nanoseconds delay, std::function<void()> fn);
  TimerId run_every(std::chrono::nanoseconds period, std::function<void()> fn);
  // Returns false if the timer already fired (one-shot) or was cancelled.
  bool cancel(TimerId id);

  // Connect outward from this loop: tcp://, tcp4://, tcp6://, udp:// (a connected UDP socket),
  // unix://, unixpacket://. Must be called on this loop's thread (e.g. from a callback, as a
  // proxy does: no thread hop). The connection lives on this loop; on_open fires for it
  // (listener_index() == -1), then on_done(error = {}, handle). A refused, failed or timed-out
  // (Errc::timed_out) connect calls on_done(error, {}) and nothing else. on_done may run before
  // dial() returns (a Unix socket often connects at once; a bad address fails at once), and then
  // dial() also returns that error. Host names are resolved with getaddrinfo on this thread and
  // only the first address is tried: use IP literals where that must not block.
  using DialDone = std::function<void(std::error_code, ConnHandle)>;
  std::error_code dial(std::string_view address, std::chrono::milliseconds timeout, DialDone on_done);

  // The connection a handle names, if it lives on this loop and is still open; else nullptr.
  // Must be called on this loop's thread; the pointer is valid until the current callback or
  // task returns. This is how one connection writes straight to its partner on the same loop.
  Conn* lookup(const ConnHandle& handle) noexcept;

  // Run fn on this loop's thread soon. Safe from any thread. Returns Errc::engine_stopped once
  // the loop has stopped (fn is then dropped without running).
  std::error_code post(std::function<void()> fn);

 protected:
  Loop() = default;
  ~Loop() = default;
};

}  // namespace gnet
