#include "engine/signal_stop.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "engine/engine_core.hpp"

namespace gnet::detail {
namespace {

// Engines to stop, by slot; a handler reads them, so they are lock-free atomics (plain loads and
// stores are async-signal-safe on them). 64 engines with stop_signals at once is plenty.
constexpr int kSlots = 64;
std::atomic<EngineCore*> g_engines[kSlots];
std::atomic<unsigned long long> g_signals_wanted[kSlots];  // bit s: slot wants signal s (< 64)
// Handlers currently running: an engine leaving waits for 0 before it may be freed.
std::atomic<int> g_in_handler{0};
// Installation bookkeeping (never touched by the handler).
std::mutex g_install_mu;
int g_refs[64];                       // engines that want signal s
struct sigaction g_previous[64];      // its action before the first of them

static_assert(std::atomic<EngineCore*>::is_always_lock_free);

void on_stop_signal(int signal) {
  const int saved_errno = errno;
  g_in_handler.fetch_add(1, std::memory_order_acq_rel);
  for (int i = 0; i < kSlots; ++i) {
    EngineCore* engine = g_engines[i].load(std::memory_order_acquire);
    if (engine != nullptr && (g_signals_wanted[i].load(std::memory_order_acquire) >> signal & 1) != 0) {
      engine->request_stop();  // a flag and eventfd writes: async-signal-safe
    }
  }
  g_in_handler.fetch_sub(1, std::memory_order_acq_rel);
  errno = saved_errno;
}

}  // namespace

SignalStop::SignalStop(EngineCore& engine, const std::vector<int>& signals) {
  unsigned long long wanted = 0;
  for (int s : signals) {
    if (s > 0 && s < 64) wanted |= 1ULL << s;
  }
  if (wanted == 0) return;
  for (int i = 0; i < kSlots; ++i) {
    EngineCore* expected = nullptr;
    if (g_engines[i].load(std::memory_order_acquire) != nullptr) continue;
    g_signals_wanted[i].store(wanted, std::memory_order_release);
    if (g_engines[i].compare_exchange_strong(expected, &engine, std::memory_order_acq_rel)) {
      slot_ = i;
      break;
    }
  }
  if (slot_ < 0) {
    engine.log(LogLevel::error, "stop_signals: more than 64 engines at once; this one ignores signals");
    return;
  }
  // The handler is process-wide: installed when the first engine asks for a signal, and the
  // signal's previous action put back when the last one leaves, in whatever order they go.
  std::lock_guard lock(g_install_mu);
  for (int s = 1; s < 64; ++s) {
    if ((wanted >> s & 1) == 0) continue;
    if (g_refs[s] == 0) {
      struct sigaction action {};
      action.sa_handler = on_stop_signal;
      sigemptyset(&action.sa_mask);
      action.sa_flags = SA_RESTART;
      if (::sigaction(s, &action, &g_previous[s]) != 0) {
        engine.log(LogLevel::error, "stop_signals: sigaction(" + std::to_string(s) + "): " + std::strerror(errno));
        continue;
      }
    }
    ++g_refs[s];
    installed_ |= 1ULL << s;
  }
}

SignalStop::~SignalStop() {
  if (slot_ < 0) return;
  {
    std::lock_guard lock(g_install_mu);
    for (int s = 1; s < 64; ++s) {
      if ((installed_ >> s & 1) != 0 && --g_refs[s] == 0) ::sigaction(s, &g_previous[s], nullptr);
    }
  }
  // No handler may still be using the engine once this returns (it is about to be freed).
  g_engines[slot_].store(nullptr, std::memory_order_release);
  while (g_in_handler.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

}  // namespace gnet::detail
