// Internal: what a loop, its connections, its acceptor and its dialer need from the engine that
// owns them — the handler, the options, the log, the stop flag and the loop picker — and nothing
// else. conn/, io/ and loop/ depend on this, never on engine/: the engine fills it in once and
// outlives every loop.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "gnet/address.hpp"
#include "gnet/handler.hpp"
#include "gnet/options.hpp"

namespace gnet::detail {

class EventLoop;
class TlsContexts;

struct LoopContext {
  EventHandler& handler;
  const Options& options;
  const std::atomic<bool>& stopping;
  // Any thread: asks every loop to stop (Action::shutdown, Engine::stop).
  std::function<void()> request_stop;
  // Acceptor thread: chooses the loop for a connection a distributing listener accepted, and
  // counts it there.
  std::function<EventLoop&(const SocketAddress&)> pick_loop;
  // Loop 0, each turn after a hand-over (gnet/upgrade.hpp): the engine stops once every loop is
  // quiet and no connection is left, or at the drain deadline. Empty for clients.
  std::function<void()> handoff_check;
  // The engine's TLS contexts (tls:// listeners and dials).
  TlsContexts* tls = nullptr;

  void log(LogLevel level, const std::string& message) const { options.logger(level, message); }
  bool is_stopping() const noexcept { return stopping.load(std::memory_order_acquire); }
};

}  // namespace gnet::detail
