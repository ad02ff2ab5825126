// gnet/loop.hpp — one event loop: a thread that polls, dispatches callbacks, runs posted tasks
// and timers, in that order, every turn.
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <system_error>

#include "gnet/error.hpp"
#include "gnet/metrics.hpp"
#include "gnet/unique_function.hpp"

namespace gnet {

class Conn;
class ConnHandle;

// Identifies a timer on its loop; 0 is never a valid id.
using TimerId = std::uint64_t;

// Identifies a foreign-descriptor watch on its loop (Loop::watch); 0 is never a valid id.
using WatchId = std::uint64_t;

// Readiness of a watched descriptor: what a watch asks for, and what its callback hears.
enum class Ready : std::uint8_t {
  none = 0,
  readable = 1,
  writable = 2,
  hangup = 4,  // heard only: the peer closed or the descriptor has an error (it never asks)
};
constexpr Ready operator|(Ready a, Ready b) noexcept {
  return static_cast<Ready>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr Ready operator&(Ready a, Ready b) noexcept {
  return static_cast<Ready>(static_cast<std::uint8_t>(a) & static_cast<std::uint8_t>(b));
}
// True when any bit of want is set in got: `if (has(events, Ready::readable))`.
constexpr bool has(Ready got, Ready want) noexcept { return (got & want) != Ready::none; }

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

  // The time this loop's current turn began: read from steady_clock once, when the kernel's
  // wait returned, and the same for every callback of the turn (libuv's uv_now). Handlers that
  // stamp or compare times per request (expiry, deadlines, rate limits) use it instead of a
  // clock read each; it lags the true time by however long the turn has run so far, so code
  // that runs for long and needs the exact time reads the clock itself. Timers are not
  // affected: they are scheduled from the true time. Must be called on this loop's thread.
  std::chrono::steady_clock::time_point now() const noexcept;

  // A snapshot of this loop's counters (gnet/metrics.hpp). Any thread, at any time while the
  // engine exists (also after its loops have stopped, e.g. in on_shutdown); a few loads, no
  // lock, nothing asked of the loop.
  LoopMetrics metrics() const noexcept;

  // Timers. Must be called on this loop's thread. fn runs on this loop's thread. A heap keeps
  // them: O(log n) to add, cancel is O(1) (the entry is skipped when it surfaces).
  TimerId run_after(std::chrono::nanoseconds delay, UniqueFunction<void()> fn);
  TimerId run_every(std::chrono::nanoseconds period, UniqueFunction<void()> fn);
  // Returns false if the timer already fired (one-shot) or was cancelled.
  bool cancel(TimerId id);

  // Connect outward from this loop: tcp://, tcp4://, tcp6://, udp:// (a connected UDP socket),
  // unix://, unixpacket://. Must be called on this loop's thread (e.g. from a callback, as a
  // proxy does: no thread hop). The connection lives on this loop; on_open fires for it
  // (listener_index() == -1), then on_done(error = {}, handle). If the connection closed at once
  // (on_open closed it, or the peer reset it), the dial still succeeded (no error), the handle is
  // stale and on_close runs too: before on_done, except that a tls:// close first flushes its
  // close_notify. A refused, failed or timed-out
  // (Errc::timed_out) connect calls on_done(error, {}) and nothing else. on_done may run before
  // dial() returns (a Unix socket often connects at once; a bad address fails at once), and then
  // dial() also returns that error. Host names are resolved with getaddrinfo on this thread and
  // only the first address is tried: use IP literals where that must not block.
  using DialDone = UniqueFunction<void(std::error_code, ConnHandle)>;
  std::error_code dial(std::string_view address, std::chrono::milliseconds timeout, DialDone on_done);
  // The same, with the connection's context (Conn::context<T>()) already set when on_open runs,
  // as gnet's DialContext: on_open knows which request the connection is for.
  std::error_code dial(std::string_view address, std::chrono::milliseconds timeout, DialDone on_done,
                       std::any context);

  // The connection a handle names, if it lives on this loop and is still open; else nullptr.
  // Must be called on this loop's thread; the pointer is valid until the current callback or
  // task returns. This is how one connection writes straight to its partner on the same loop.
  Conn* lookup(const ConnHandle& handle) noexcept;

  // ---- descriptors the loop does not own (libcurl's and c-ares's sockets, an inotify fd) ----
  // Watches fd for readiness and calls fn(events) on this loop's thread while it is ready:
  // level-triggered, as poll(2) and libuv's uv_poll are, so fn must read or write until the
  // descriptor would block, or change the interest, or it is called again next turn. The loop
  // never reads, writes, closes or changes a flag (O_NONBLOCK included) of a watched descriptor:
  // it only asks the kernel when it is ready. Ready::hangup may come with or without readable.
  // Errors: std::errc::bad_file_descriptor (fd not open), std::errc::file_exists (already
  // watched on this loop), std::errc::operation_not_permitted (a regular file or directory: it is
  // always ready; use gnet::File), or what the kernel says. Must be called on this loop's thread;
  // the callback may call watch/set_interest/unwatch for any watch, itself included.
  // unwatch() before closing the descriptor: a number that the kernel hands out again must not
  // still be watched under its old id. Watches still present when the loop ends are dropped
  // (the descriptors stay open: they are the caller's).
  using WatchCallback = UniqueFunction<void(Ready events)>;
  Result<WatchId> watch(int fd, Ready interest, WatchCallback fn);
  // Changes what a watch asks for; Ready::none keeps the watch but stops its callbacks.
  // Returns std::errc::invalid_argument for an unknown id. Loop thread.
  std::error_code set_interest(WatchId id, Ready interest);
  // Stops watching (no callback runs for it after this returns). False for an unknown id.
  // Loop thread.
  bool unwatch(WatchId id);

  // Run fn on this loop's thread soon. Safe from any thread. Returns Errc::engine_stopped once
  // the loop has stopped (fn is then dropped without running).
  std::error_code post(UniqueFunction<void()> fn);

 protected:
  Loop() = default;
  ~Loop() = default;
};

}  // namespace gnet
