// Helpers for the socket tests: a server on a background thread, blocking and epoll-driven
// clients, deterministic payloads. Deadlines here only turn a hang into a failure; they never
// decide a pass.
#pragma once

#include <gnet/gnet.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace gnet::test {

// Forwards every callback to `inner`, and captures the engine at boot.
class BootProbe final : public EventHandler {
 public:
  explicit BootProbe(EventHandler& inner) : inner_(inner) {}
  Action on_boot(Engine& e) override;
  void on_shutdown(Engine& e) override;
  Action on_open(Conn& c) override { return inner_.on_open(c); }
  Action on_close(Conn& c, std::error_code ec) override { return inner_.on_close(c, ec); }
  Action on_traffic(Conn& c) override { return inner_.on_traffic(c); }
  Action on_eof(Conn& c) override { return inner_.on_eof(c); }
  TickResult on_tick() override { return inner_.on_tick(); }
  void on_high_water(Conn& c) override { inner_.on_high_water(c); }
  void on_low_water(Conn& c) override { inner_.on_low_water(c); }

  std::promise<Engine*> booted;
  std::vector<SocketAddress> addresses;  // read at boot, on the engine's thread
  // Held while calling engine->stop(); on_shutdown marks the engine gone under it.
  std::mutex engine_mu;
  bool engine_gone = false;

 private:
  EventHandler& inner_;
};

// Runs gnet::rotate on a thread; the constructor returns once the engine has booted (or failed).
class ServerThread {
 public:
  ServerThread(EventHandler& handler, std::vector<std::string> addresses, Options options = {});
  ServerThread(EventHandler& handler, std::string address, Options options = {})
      : ServerThread(handler, std::vector<std::string>{std::move(address)}, std::move(options)) {}
  ~ServerThread();

  bool ok() const { return engine_ != nullptr; }
  Engine& engine() { return *engine_; }
  std::uint16_t port(std::size_t listener = 0) const;
  // Stops the engine and joins; returns what run() returned.
  Result<void> stop();
  // Waits for run() to return on its own (e.g. after Action::shutdown).
  Result<void> join();

 private:
  BootProbe probe_;
  Engine* engine_ = nullptr;
  std::vector<SocketAddress> addresses_;
  std::future<Result<void>> done_;
  std::thread thread_;
  std::optional<Result<void>> result_;
};

// Blocking client socket helpers (throw std::runtime_error on failure).
int connect_tcp(std::uint16_t port, bool ipv6 = false);
int connect_unix(const std::string& path, int type);
void send_all(int fd, std::string_view data);
// Reads exactly n bytes; fails (throws) on EOF/error or when nothing arrives for `stall`.
std::string recv_exact(int fd, std::size_t n, std::chrono::milliseconds stall = std::chrono::seconds(20));
// True when the peer closed (EOF or reset) before `stall` passes.
bool wait_closed(int fd, std::chrono::milliseconds stall = std::chrono::seconds(20));
void close_fd(int fd);

// Deterministic pseudo-random bytes.
std::string random_bytes(std::size_t n, std::uint64_t seed);

// Drives many echo clients at once from one thread with epoll: client i sends payloads[i] and
// must get exactly it back. Returns a description of every mismatch/failure (empty = all good).
std::vector<std::string> run_echo_clients(std::uint16_t port, const std::vector<std::string>& payloads,
                                          std::chrono::seconds stall = std::chrono::seconds(60));

// Runs fn on the loop's thread and waits until it has run; false if the loop refused the task.
bool run_on_loop(Loop& loop, std::function<void()> fn);

// Lets the loop go through `turns` turns (one posted task each), so that whatever the kernel
// holds for its connections has been seen; false if the loop refused a task.
bool let_loop_turn(Loop& loop, int turns);

// Polls cond every millisecond until it holds or `limit` passes; returns cond's last value.
template <class F>
bool eventually(F&& cond, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace gnet::test
