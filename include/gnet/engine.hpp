// gnet/engine.hpp — start a server and control it while it runs.
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "gnet/address.hpp"
#include "gnet/error.hpp"
#include "gnet/handler.hpp"
#include "gnet/loop.hpp"
#include "gnet/metrics.hpp"
#include "gnet/options.hpp"

namespace gnet {

// The running server, handed to on_boot/on_shutdown. Valid until run() returns.
// Whether this process may use the io_uring backend: an empty Error when the kernel grants a
// ring with everything the backend needs, else one that says why not (sysctl, seccomp, kernel
// too old, built without liburing). Any thread; costs a ring setup and teardown.
Error io_uring_unavailable();

class Engine {
 public:
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Graceful stop: stop accepting, let queued output drain (up to Options::shutdown_timeout),
  // close every connection (on_close), then on_shutdown, then run() returns.
  // Safe from any thread, and async-signal-safe (it only stores a flag and writes eventfds), so
  // a SIGINT handler may call it directly.
  void stop() noexcept;
  bool stopping() const noexcept;
  // stop(), then wait until the engine is done with the handler: every connection closed and
  // on_shutdown returned (run() returns right after). gnet's Engine.Stop(ctx). Returns empty
  // then, Errc::timed_out when `timeout` passed first (the stop goes on), or
  // std::errc::resource_deadlock_would_occur when called on a thread the engine needs to
  // finish (a loop thread, on_boot, on_shutdown, the thread inside run()), which waits for
  // nothing. Any other thread, while the engine is valid; the wait itself is safe even though
  // run() returning destroys the engine. Not async-signal-safe (use stop() in a handler).
  std::error_code stop_and_wait(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  // Zero-downtime restart (gnet/upgrade.hpp, docs/deploy.md): offers every listening socket on
  // the Unix socket `path` and waits up to `timeout` for a successor (gnet::receive_listeners)
  // to take them and start serving. On success, when it returns, this engine accepts no more:
  // the sockets stay open in the successor, so nothing waiting in a backlog is lost, and a
  // connection an io_uring accept had already taken is served here. handed_over() turns true,
  // and the open connections are served on until they have all closed (then the engine stops
  // and run() returns) or until Options::shutdown_timeout has passed; then the graceful stop
  // (stop()) closes the rest, with up to another shutdown_timeout for their queued output.
  // On failure (no successor in time, or it broke off) nothing changed: this engine keeps
  // serving, and the Error says why (Errc::timed_out, Errc::handover_failed).
  // Blocks: call it from a thread of your own (a signal-handling thread), not a loop thread,
  // which would stall its connections meanwhile. Once per engine.
  Result<void> hand_over(std::string_view path, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once hand_over() succeeded: a handler winds its connections up (HTTP answers the next
  // request with "Connection: close"). Any thread.
  bool handed_over() const noexcept;

  // Open connections across all loops. Safe from any thread. A connection counts from just
  // before its on_open until just after its on_close returns.
  std::size_t count_connections() const noexcept;

  // Every loop's metrics (Loop::metrics) and their sum (gnet/metrics.hpp). Safe from any thread
  // while the engine exists (from on_boot until on_shutdown has returned); allocates the vector.
  // gnet::to_prometheus(engine.metrics()) renders them for a /metrics endpoint.
  EngineMetrics metrics() const;

  // A dup(2) of listener i's socket (the caller owns it), e.g. to hand to a child process.
  // With reuse_port, loop 0's socket for that address.
  Result<int> dup_listener(std::size_t listener = 0) const;

  // The bound address of each listener, in the order given to run()/rotate(); port 0 resolved.
  std::vector<SocketAddress> listen_addresses() const;

  int num_loops() const noexcept;
  // The I/O backend the loops run on (Options::backend resolved: epoll or io_uring). Any thread.
  IoBackend io_backend() const noexcept;
  // Precondition: 0 <= index < num_loops().
  Loop& loop(int index);

  // Run fn on loop `index`'s thread (index < 0: the least loaded loop). Safe from any thread.
  // Returns Errc::engine_stopped once loops have stopped, std::errc::invalid_argument for an
  // index past the last loop.
  std::error_code post(int index, UniqueFunction<void()> fn);

  // Connect outward from this engine (gnet's Engine.Register with a dial): the connection joins
  // the least loaded loop and is served by the engine's handler like an accepted one
  // (listener_index() == -1). Safe from any thread (a worker, another engine's callback, main).
  // `context` is the connection's context (Conn::context<T>()) from the start: already set when
  // on_open runs. on_done runs on that loop after on_open, as for Loop::dial. The immediate
  // return is Errc::engine_stopped once the engine stops; every later outcome goes to on_done.
  std::error_code dial(std::string_view address, std::chrono::milliseconds timeout,
                       Loop::DialDone on_done = {}, std::any context = {});

 protected:
  Engine() = default;
  ~Engine() = default;
};

// Serve one address until the engine stops. Blocks. Returns an Error (never aborts) when the
// address is malformed or cannot be bound; the message names the address and the reason.
Result<void> run(EventHandler& handler, std::string_view address, const Options& options = {});

// Serve several addresses from one engine: the same loops carry connections of all of them;
// Conn::listener_index() and Conn::network() say which one a connection came from.
Result<void> rotate(EventHandler& handler, const std::vector<std::string>& addresses,
                    const Options& options = {});

}  // namespace gnet
