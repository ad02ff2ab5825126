// echo_load — a load generator for echo servers, built on gnet::Client, that keeps its
// connections up through server restarts: a connection that drops or a dial that fails is
// retried with exponential backoff and full jitter, as a production client should (a restarted
// server is not hit by every client at the same instant, and a dead one is not hammered).
//
//   build/examples/echo_load --connect tcp://127.0.0.1:9000 -c 100 -s 64 -d 10
//   build/examples/echo_load --connect unix:///tmp/echo.sock --json
//
// Each of the -c connections runs a closed loop: send one message of -s bytes, wait until all of
// it has come back, compare every byte, send the next. A message carries its connection number
// and sequence number in its bytes, so an echo that returns another connection's bytes, an old
// message or a corrupt one is caught, not just counted. When -d seconds have passed, the
// connections are closed gracefully and a summary is printed: messages completed, rate, latency
// percentiles, reconnects, failed dials (with the last reason), and messages interrupted by a
// connection loss (sent, not fully echoed: they are not retried, since an echo server may have
// seen them or not).
//
// Threads: --loops event loops; connection i lives on loop i % loops for its whole life (its
// reconnects are dialed from that loop's thread, with Loop::run_after timers for the backoff),
// so its state is touched by one thread only and needs no lock. The totals are read after
// Client::stop(), when the loops have been joined.
//
// Exit status: 0 when at least one message completed and no echoed byte was wrong; 1 when an
// echo was wrong or nothing completed (the reason on stderr); 2 for bad flags.
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Kept at most per loop: a run is bounded in time, and 4 Mi samples of 4 bytes is 16 MiB.
constexpr std::size_t kMaxLatencySamples = std::size_t{1} << 22;

struct Settings {
  std::string address = "tcp://127.0.0.1:9000";
  int connections = 50;
  std::size_t size = 64;
  double duration_s = 5;
  int loops = 1;
  milliseconds dial_timeout{1000};
  milliseconds backoff_initial{50};
  milliseconds backoff_max{2000};
  bool json = false;
};

// Counters of one loop, touched by its thread only.
struct LoopStats {
  std::uint64_t completed = 0;
  std::uint64_t bytes = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t interrupted = 0;
  std::uint64_t reconnects = 0;  // connections opened after the first one of each slot
  std::uint64_t dial_failures = 0;
  std::string last_dial_error;
  std::vector<std::uint32_t> latency_us;
};

// One of the -c connections, across all its reconnects. Touched by its loop's thread only.
struct Slot {
  int index = 0;
  int loop = 0;
  gnet::ConnHandle conn;  // empty while disconnected
  bool ever_connected = false;
  std::uint64_t reconnects = 0;  // connections opened after the first
  int failures_in_a_row = 0;  // sets the backoff; reset when a message completes
  std::uint64_t seq = 0;      // of the message in flight
  bool in_flight = false;
  std::size_t echoed = 0;  // bytes of it that came back
  Clock::time_point sent_at;
  std::string message;  // the message in flight
};

// Message bytes: "#<slot>:<seq>:" then a pattern that depends on both, up to the size. A short
// size keeps what fits of the prefix (the pattern still differs between messages).
void fill_message(std::string& out, std::size_t size, int slot, std::uint64_t seq) {
  out.resize(size);
  char head[48];
  int n = std::snprintf(head, sizeof head, "#%d:%llu:", slot, static_cast<unsigned long long>(seq));
  std::size_t i = 0;
  for (; i < size && i < static_cast<std::size_t>(n); ++i) out[i] = head[i];
  std::uint64_t x = (static_cast<std::uint64_t>(slot) << 32) ^ seq ^ 0x9e3779b97f4a7c15ull;
  for (; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>('a' + x % 26);
  }
}

class EchoLoad final : public gnet::EventHandler {
 public:
  explicit EchoLoad(const Settings& s) : settings_(s), stats_(static_cast<std::size_t>(s.loops)) {
    slots_.resize(static_cast<std::size_t>(s.connections));
    for (int i = 0; i < s.connections; ++i) {
      Slot& slot = slots_[static_cast<std::size_t>(i)];
      slot.index = i;
      slot.loop = i % s.loops;
    }
    for (int l = 0; l < s.loops; ++l) rngs_.emplace_back(0x5eedu + static_cast<unsigned>(l));
  }

  // Main thread, once the client has started: each slot's first dial, on its own loop.
  void begin(gnet::Client& client) {
    for (Slot& slot : slots_) {
      gnet::Loop& loop = client.engine().loop(slot.loop);
      (void)client.engine().post(slot.loop, [this, &loop, &slot] { dial(loop, slot); });
    }
  }

  // Any thread: from now on, a lost connection is not redialed (the run is ending).
  void finish() { finishing_.store(true, std::memory_order_relaxed); }

  // Only after Client::stop() (loops joined).
  const std::vector<LoopStats>& stats() const { return stats_; }
  // How many of the -c connections were reconnected at least once. Only after Client::stop().
  int connections_reconnected() const {
    return static_cast<int>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.reconnects > 0; }));
  }

  gnet::Action on_open(gnet::Conn& c) override {
    Slot& slot = **c.context<Slot*>();
    LoopStats& st = stats_[static_cast<std::size_t>(slot.loop)];
    if (slot.ever_connected) {
      ++st.reconnects;
      ++slot.reconnects;
    }
    slot.ever_connected = true;
    slot.conn = c.handle();
    send_next(c, slot);
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& c) override {
    Slot& slot = **c.context<Slot*>();
    LoopStats& st = stats_[static_cast<std::size_t>(slot.loop)];
    while (c.inbound_buffered() > 0) {
      if (!slot.in_flight) {  // bytes nobody asked for: the server is not an echo server
        ++st.corrupt;
        report_corrupt(slot, "bytes arrived with no message in flight");
        return gnet::Action::close;
      }
      std::string_view got = c.next(slot.message.size() - slot.echoed);
      if (std::memcmp(got.data(), slot.message.data() + slot.echoed, got.size()) != 0) {
        ++st.corrupt;
        report_corrupt(slot, "echoed bytes differ from the message sent");
        return gnet::Action::close;
      }
      slot.echoed += got.size();
      if (slot.echoed < slot.message.size()) break;
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - slot.sent_at).count();
      if (st.latency_us.size() < kMaxLatencySamples) st.latency_us.push_back(static_cast<std::uint32_t>(us));
      ++st.completed;
      st.bytes += slot.message.size();
      slot.in_flight = false;
      slot.failures_in_a_row = 0;
      if (finishing_.load(std::memory_order_relaxed)) return gnet::Action::close;
      send_next(c, slot);
    }
    return gnet::Action::none;
  }

  gnet::Action on_close(gnet::Conn& c, std::error_code) override {
    Slot& slot = **c.context<Slot*>();
    LoopStats& st = stats_[static_cast<std::size_t>(slot.loop)];
    if (slot.in_flight && !finishing_.load(std::memory_order_relaxed)) ++st.interrupted;
    slot.in_flight = false;
    slot.conn = {};
    ++slot.failures_in_a_row;
    retry_later(c.loop(), slot);
    return gnet::Action::none;
  }

 private:
  void dial(gnet::Loop& loop, Slot& slot) {
    if (finishing_.load(std::memory_order_relaxed)) return;
    loop.dial(
        settings_.address, settings_.dial_timeout,
        [this, &loop, &slot](std::error_code ec, gnet::ConnHandle) {
          // No error: on_open has run. If the connection closed at once (a dying server reset it),
          // on_close has run too and scheduled the redial; an error means on_open never ran.
          if (!ec) return;
          LoopStats& st = stats_[static_cast<std::size_t>(slot.loop)];
          ++st.dial_failures;
          st.last_dial_error = ec.message();
          ++slot.failures_in_a_row;
          retry_later(loop, slot);
        },
        std::any(&slot));
  }

  // Exponential backoff with full jitter: a delay drawn from [0, min(max, initial * 2^(n-1))]
  // after the n-th failure in a row (AWS's "full jitter"; spreads a herd of clients out).
  void retry_later(gnet::Loop& loop, Slot& slot) {
    if (finishing_.load(std::memory_order_relaxed)) return;
    const int exponent = std::min(slot.failures_in_a_row - 1, 20);
    const auto ceiling = std::min<std::int64_t>(settings_.backoff_max.count(),
                                                settings_.backoff_initial.count() << std::max(exponent, 0));
    std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
    const milliseconds delay{pick(rngs_[static_cast<std::size_t>(slot.loop)])};
    loop.run_after(delay, [this, &loop, &slot] { dial(loop, slot); });
  }

  void send_next(gnet::Conn& c, Slot& slot) {
    ++slot.seq;
    fill_message(slot.message, settings_.size, slot.index, slot.seq);
    slot.in_flight = true;
    slot.echoed = 0;
    slot.sent_at = Clock::now();
    c.write(slot.message);
  }

  void report_corrupt(const Slot& slot, const char* what) {
    std::fprintf(stderr, "echo_load: connection %d, message %llu: %s\n", slot.index,
                 static_cast<unsigned long long>(slot.seq), what);
  }

  const Settings& settings_;
  std::vector<Slot> slots_;  // never resized after construction: tasks and contexts point into it
  std::vector<LoopStats> stats_;
  std::vector<std::mt19937_64> rngs_;  // one per loop
  std::atomic<bool> finishing_{false};
};

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

std::uint32_t percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"gnet-cpp echo_load: closed-loop echo load with reconnect and backoff"};
  int dial_timeout_ms = 1000, backoff_initial_ms = 50, backoff_max_ms = 2000;
  app.add_option("--connect", s.address, "server address (tcp://, tcp6://, unix://)");
  app.add_option("-c,--connections", s.connections, "connections")->check(CLI::Range(1, 100000));
  app.add_option("-s,--size", s.size, "message size in bytes")->check(CLI::Range(1, 16 << 20));
  app.add_option("-d,--duration", s.duration_s, "seconds to run")->check(CLI::Range(0.1, 86400.0));
  app.add_option("--loops", s.loops, "event loops")->check(CLI::Range(1, 256));
  app.add_option("--dial-timeout-ms", dial_timeout_ms, "connect timeout per attempt")->check(CLI::Range(1, 600000));
  app.add_option("--backoff-initial-ms", backoff_initial_ms, "first retry delay ceiling")->check(CLI::Range(1, 600000));
  app.add_option("--backoff-max-ms", backoff_max_ms, "largest retry delay ceiling")->check(CLI::Range(1, 600000));
  app.add_flag("--json", s.json, "print the summary as one JSON object");
  CLI11_PARSE(app, argc, argv);
  s.dial_timeout = milliseconds(dial_timeout_ms);
  s.backoff_initial = milliseconds(backoff_initial_ms);
  s.backoff_max = milliseconds(std::max(backoff_max_ms, backoff_initial_ms));
  if (auto parsed = gnet::parse_address(s.address); !parsed) {
    std::fprintf(stderr, "echo_load: %s\n", parsed.error().message().c_str());
    return 2;
  }

  EchoLoad load(s);
  gnet::Client client(load, {.num_event_loop = s.loops, .shutdown_timeout = milliseconds(2000)});
  if (auto r = client.start(); !r) {
    std::fprintf(stderr, "echo_load: %s\n", r.error().message().c_str());
    return 1;
  }
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.duration_s));
  load.begin(client);
  while (Clock::now() < deadline && !interrupted) std::this_thread::sleep_for(milliseconds(20));
  load.finish();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  client.stop();  // closes every connection (on_close: no redial now); joins the loops

  LoopStats total;
  for (const LoopStats& st : load.stats()) {
    total.completed += st.completed;
    total.bytes += st.bytes;
    total.corrupt += st.corrupt;
    total.interrupted += st.interrupted;
    total.reconnects += st.reconnects;
    total.dial_failures += st.dial_failures;
    if (!st.last_dial_error.empty()) total.last_dial_error = st.last_dial_error;
    total.latency_us.insert(total.latency_us.end(), st.latency_us.begin(), st.latency_us.end());
  }
  const double rate = static_cast<double>(total.completed) / elapsed;
  const std::uint32_t p50 = percentile(total.latency_us, 0.50), p99 = percentile(total.latency_us, 0.99),
                      p999 = percentile(total.latency_us, 0.999);
  if (s.json) {
    std::string reason;
    for (char ch : total.last_dial_error) {
      if (ch == '"' || ch == '\\') reason += '\\';
      reason += ch;
    }
    std::printf(
        "{\"connections\": %d, \"size\": %zu, \"seconds\": %.3f, \"completed\": %llu, \"rate\": %.1f, "
        "\"p50_us\": %u, \"p99_us\": %u, \"p999_us\": %u, \"corrupt\": %llu, \"interrupted\": %llu, "
        "\"reconnects\": %llu, \"connections_reconnected\": %d, \"dial_failures\": %llu, \"last_dial_error\": \"%s\"}\n",
        s.connections, s.size, elapsed, static_cast<unsigned long long>(total.completed), rate, p50, p99, p999,
        static_cast<unsigned long long>(total.corrupt), static_cast<unsigned long long>(total.interrupted),
        static_cast<unsigned long long>(total.reconnects), load.connections_reconnected(),
        static_cast<unsigned long long>(total.dial_failures), reason.c_str());
  } else {
    std::printf("%d connections x %zu B for %.2f s: %llu messages (%.0f/s), latency p50 %u us, p99 %u us, p99.9 %u us\n",
                s.connections, s.size, elapsed, static_cast<unsigned long long>(total.completed), rate, p50, p99, p999);
    std::printf("reconnects %llu, failed dials %llu%s%s, interrupted messages %llu, corrupt echoes %llu\n",
                static_cast<unsigned long long>(total.reconnects), static_cast<unsigned long long>(total.dial_failures),
                total.last_dial_error.empty() ? "" : " (last: ", total.last_dial_error.empty() ? "" : (total.last_dial_error + ")").c_str(),
                static_cast<unsigned long long>(total.interrupted), static_cast<unsigned long long>(total.corrupt));
  }
  if (total.corrupt > 0) {
    std::fprintf(stderr, "echo_load: %llu echoes were wrong\n", static_cast<unsigned long long>(total.corrupt));
    return 1;
  }
  if (total.completed == 0) {
    std::fprintf(stderr, "echo_load: no message completed%s%s\n", total.last_dial_error.empty() ? "" : ": ",
                 total.last_dial_error.c_str());
    return 1;
  }
  return 0;
}
