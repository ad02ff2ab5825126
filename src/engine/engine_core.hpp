// Internal: the engine behind gnet::Engine — owns the loops, the listeners and the handler.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "engine/load_balancer.hpp"
#include "engine/relay.hpp"
#include "gnet/upgrade.hpp"
#include "gnet/engine.hpp"
#include "loop/event_loop.hpp"
#include "net/socket.hpp"
#include "tls/tls_context.hpp"

namespace gnet::detail {

class EngineCore final : public Engine {
 public:
  EngineCore(EventHandler& handler, const Options& options);
  ~EngineCore();

  // Parses and binds every address, creates the loops. Nothing runs yet. A client engine has
  // no addresses (allow_none). With inherited listeners, an address they match is served on
  // them instead of being bound (gnet/upgrade.hpp); the ones taken are removed from the set.
  Result<void> setup(const std::vector<std::string>& addresses, bool allow_none = false,
                     InheritedListeners* inherited = nullptr);
  // on_boot, loops on threads (loop 0 on the caller's), join, on_shutdown.
  Result<void> serve();

  EventHandler& handler() noexcept { return handler_; }
  // Called right after on_boot (Client::start waits for it).
  std::function<void()> on_booted_;
  bool boot_failed_ = false;  // on_boot threw: serve() returned without running the loops
  // The hand-over channel of the listeners setup() adopted: serve() says "serving" on it.
  void set_handover_channel(int fd) noexcept { handover_channel_ = fd; }
  const Options& options() const noexcept { return options_; }
  void log(LogLevel level, const std::string& message) const;

  // Any thread: a relay (Client::enroll of a shared descriptor) whose threads serve() waits for
  // once the loops have stopped, so what they still pass on is written before run() returns.
  void keep_relay(std::shared_ptr<Relay::Finished> relay);

  // Acceptor side: choose a loop for a new connection and count it there.
  EventLoop& pick_loop(const SocketAddress& remote);
  EventLoop& loop_at(int i) noexcept { return *loops_[static_cast<std::size_t>(i)]; }
  int loop_count() const noexcept { return static_cast<int>(loops_.size()); }

  // gnet::Engine
  Result<void> hand_over(std::string_view path, std::chrono::milliseconds timeout);
  void request_stop() noexcept;
  bool is_stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
  std::error_code stop_and_wait(std::chrono::milliseconds timeout);

  // Set once serve() is done with the handler (after on_shutdown). Shared, so a thread waiting
  // in stop_and_wait() holds it safely even after the engine is destroyed under it.
  struct Finished {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };

 private:
  friend class gnet::Engine;
  // Loop 0 after a hand-over: stop once nothing is left to serve, or at the drain deadline.
  void handoff_check();

  struct ListenerGroup {
    std::string text;  // as given to run()/rotate(): a successor matches it by this
    Address address;
    std::vector<ListenSocket> sockets;                // one, or one per loop (reuse_port)
    std::vector<std::unique_ptr<Listener>> watchers;  // registered on loops
  };

  EventHandler& handler_;
  Options options_;
  std::atomic<bool> stopping_{false};
  std::shared_ptr<Finished> finished_ = std::make_shared<Finished>();
  std::atomic<std::thread::id> serve_thread_{};  // runs on_boot, loop 0 and on_shutdown
  std::unique_ptr<TlsContexts> tls_;      // built from options_.tls when first needed
  std::unique_ptr<LoopContext> context_;  // what the loops see of this engine
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<ListenerGroup> groups_;
  LoadBalancer balancer_;
  std::vector<int> load_scratch_;
  // stop() calls still running; run() waits for them before the loops go away, so a stop()
  // racing with run()'s return never touches freed memory.
  std::atomic<int> stops_in_flight_{0};
  // Hand-over (gnet/upgrade.hpp): received side, the channel to say "serving" on once booted;
  // sending side, set once the successor took the listeners.
  int handover_channel_ = -1;
  std::mutex handover_mu_;
  std::atomic<bool> handed_over_{false};
  std::chrono::steady_clock::time_point handoff_deadline_{};
  bool handoff_logged_ = false;  // loop 0 only
  std::mutex relays_mu_;
  std::vector<std::shared_ptr<Relay::Finished>> relays_;
};

}  // namespace gnet::detail
