// redis — a RESP2 server on gnet-cpp that redis-cli and redis-benchmark talk to.
//
//   build/examples/redis --port 6380 --loops 4 [--timeout 300] [--maxmemory 1gb]
//   redis-cli -p 6380 set greeting hello ; redis-benchmark -p 6380 -q -n 20000
//
// The protocol logic lives in resp.*, keyspace.* and commands.* (unit-tested without sockets);
// this file only connects it to gnet: per connection a Session (parser state) as the Conn
// context; on_traffic runs the complete commands in the input and writes their replies with one
// write, but only while the connection's outbound queue has room (see on_traffic); the ticker
// sweeps expired keys.
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "commands.hpp"
#include "config.hpp"
#include "keyspace.hpp"

namespace {

using namespace redis_example;

// Redis's floor for proto-max-bulk-len and client-query-buffer-limit.
constexpr std::size_t kMinLimit = 1024 * 1024;

class RedisServer final : public gnet::EventHandler {
 public:
  RedisServer(const Config& config, std::size_t write_buffer_cap)
      : config_(config), write_buffer_cap_(write_buffer_cap) {}

  gnet::Action on_boot(gnet::Engine& engine) override {
    const auto addrs = engine.listen_addresses();
    std::printf("redis: listening on tcp://%s with %d loop(s)\n",
                addrs.empty() ? "?" : addrs.front().to_string().c_str(), engine.num_loops());
    std::fflush(stdout);
    return gnet::Action::none;
  }

  void on_shutdown(gnet::Engine&) override {
    std::printf("redis: stopped\n");
    std::fflush(stdout);
  }

  gnet::Action on_open(gnet::Conn& conn) override {
    conn.set_context(Session(config_));
    return gnet::Action::none;
  }

  // Pipelining with bounded memory: a client can send 9 000 `GET bigkey` in one packet and read
  // nothing. Replies are produced only while the connection's outbound queue is under
  // write_buffer_cap, and only until this batch's reply buffer fills what is left of it; the
  // commands after that stay unconsumed in the input, and the engine calls on_traffic again
  // once the peer has read enough for the queue to drain below half (even if it sends nothing
  // more). Output held for one connection: at most write_buffer_cap + one reply.
  gnet::Action on_traffic(gnet::Conn& conn) override {
    Session* session = conn.context<Session>();
    if (session == nullptr) return gnet::Action::close;
    // One reply buffer per loop thread, reused: all replies of a batch go out in one write.
    thread_local std::string out;
    for (;;) {
      if (conn.outbound_full()) return gnet::Action::none;  // resumed after the drain
      const std::size_t queued = conn.outbound_buffered();
      const std::size_t budget = queued < write_buffer_cap_ ? write_buffer_cap_ - queued : 0;
      out.clear();
      const Progress p = process(keyspace_, *session, conn.peek(), out, budget, to_ms(conn.loop().now()));
      conn.discard(p.consumed);
      if (!out.empty()) conn.write(out);
      if (out.capacity() > kKeepCapacity) std::string().swap(out);
      if (p.close) return gnet::Action::close;
      // The budget ran out but the kernel took the bytes at once and the queue is not full:
      // nothing would call us back, so go on with the rest of the input.
      if (!p.budget_reached) return gnet::Action::none;
    }
  }

  // Active expiry: every 100 ms, delete due keys (bounded per shard, so loop 0 is never held
  // up for long; lazy expiry on access covers whatever is left).
  gnet::TickResult on_tick() override {
    keyspace_.sweep(now_ms(), kSweepBudgetPerShard);
    return {std::chrono::milliseconds(100)};
  }

 private:
  static constexpr std::size_t kKeepCapacity = 4 * 1024 * 1024;
  static constexpr std::size_t kSweepBudgetPerShard = 256;
  const Config& config_;
  const std::size_t write_buffer_cap_;  // Options::write_buffer_cap
  Keyspace keyspace_;
};

// A CLI11 option taking a redis.conf size ("64mb", "1gb", "1000000").
CLI::Option* add_size_option(CLI::App& cli, const std::string& name, std::size_t& target,
                             const std::string& help) {
  auto* opt = cli.add_option_function<std::string>(
      name,
      [&target, name](const std::string& text) {
        const auto size = parse_memory_size(text);
        if (!size) throw CLI::ValidationError(name, "not a size: " + text + " (e.g. 64mb, 1gb)");
        target = *size;
      },
      help);
  opt->default_str(std::to_string(target));
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"gnet-cpp RESP2 (Redis protocol) server"};
  std::string host = "127.0.0.1";
  int port = 6380;
  int loops = 1;
  bool reuse_port = false;
  Config config;
  cli.add_option("--host", host, "address to listen on (IPv4, IPv6 or name)")
      ->capture_default_str();
  cli.add_option("--port", port, "TCP port (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cli.add_option("--loops", loops, "event loops (threads)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cli.add_flag("--reuse-port", reuse_port, "one SO_REUSEPORT listener per loop");
  cli.add_option("--timeout", config.timeout_seconds,
                 "close a client after this many idle seconds (0 = never), as redis.conf's timeout")
      ->check(CLI::Range(0LL, 100LL * 365 * 24 * 3600))
      ->capture_default_str();
  add_size_option(cli, "--maxmemory", config.maxmemory,
                  "key space bytes past which write commands get -OOM (0 = no limit)");
  add_size_option(cli, "--client-query-buffer-limit", config.limits.max_command_bytes,
                  "most bytes one command may take, framing included, and so most input one "
                  "client can make the server hold");
  add_size_option(cli, "--proto-max-bulk-len", config.limits.max_bulk_bytes,
                  "longest argument, and longest string value (APPEND)");
  CLI11_PARSE(cli, argc, argv);
  if (config.limits.max_bulk_bytes < kMinLimit || config.limits.max_command_bytes < kMinLimit) {
    std::fprintf(stderr, "redis: --proto-max-bulk-len and --client-query-buffer-limit must be at "
                         "least 1mb\n");
    return 1;
  }
  if (config.limits.max_bulk_bytes > config.limits.max_command_bytes) {
    std::fprintf(stderr, "redis: --proto-max-bulk-len must not exceed --client-query-buffer-limit\n");
    return 1;
  }

  std::signal(SIGPIPE, SIG_IGN);

  const bool v6 = host.find(':') != std::string::npos;
  const std::string where = "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  gnet::Options options;
  options.num_event_loop = loops;
  options.stop_signals = {SIGINT, SIGTERM};  // graceful stop; the engine installs the handler
  options.reuse_port = reuse_port;
  options.ticker = true;
  options.idle_timeout = std::chrono::seconds(config.timeout_seconds);
  // Unconsumed input is a partial command (at most the query buffer limit) or, while output
  // waits for the peer, the rest of what was read before reading paused: at most one read more.
  options.max_inbound_buffered = config.limits.max_command_bytes + options.read_buffer_cap;
  RedisServer server(config, options.write_buffer_cap);
  auto result = gnet::run(server, where, options);
  if (!result) {
    std::fprintf(stderr, "redis: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
