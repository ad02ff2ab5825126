// Internal: Options::stop_signals — a graceful stop on SIGINT/SIGTERM without a global engine
// pointer and a handler in every program.
#pragma once

#include <csignal>
#include <vector>

namespace gnet::detail {

class EngineCore;

// While alive, the given signals stop `engine` gracefully (Engine::stop(), which is
// async-signal-safe). The constructor installs a handler with sigaction; the destructor
// unregisters the engine, waits until no handler is still using it, and puts back each signal's
// previous action once no engine wants it any more. Several engines may share a signal: each
// is stopped.
class SignalStop {
 public:
  SignalStop(EngineCore& engine, const std::vector<int>& signals);
  ~SignalStop();
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

 private:
  int slot_ = -1;                   // in the handler's engine table; -1: nothing installed
  unsigned long long installed_ = 0;  // bit s: this engine holds a reference on signal s
};

}  // namespace gnet::detail
