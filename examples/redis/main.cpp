// redis — a RESP2 server on gnet-cpp that redis-cli and redis-benchmark talk to.
//
//   build/examples/redis --port 6380 --loops 4
//   redis-cli -p 6380 set greeting hello ; redis-benchmark -p 6380 -q -n 20000
//
// The protocol logic lives in resp.*, keyspace.* and commands.* (unit-tested without sockets);
// this file only connects it to gnet: per connection a Session (parser state) as the Conn
// context; on_traffic runs every complete command in the input and writes all replies with one
// write; the ticker sweeps expired keys.
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "keyspace.hpp"

namespace {

using namespace redis_example;

std::atomic<gnet::Engine*> g_engine{nullptr};

void on_signal(int) {
  if (gnet::Engine* e = g_engine.load()) e->stop();  // async-signal-safe
}

class RedisServer final : public gnet::EventHandler {
 public:
  gnet::Action on_boot(gnet::Engine& engine) override {
    g_engine.store(&engine);
    const auto addrs = engine.listen_addresses();
    std::printf("redis: listening on tcp://%s with %d loop(s)\n",
                addrs.empty() ? "?" : addrs.front().to_string().c_str(), engine.num_loops());
    std::fflush(stdout);
    return gnet::Action::none;
  }

  void on_shutdown(gnet::Engine&) override {
    g_engine.store(nullptr);
    std::printf("redis: stopped\n");
    std::fflush(stdout);
  }

  gnet::Action on_open(gnet::Conn& conn) override {
    conn.set_context(Session());
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& conn) override {
    Session* session = conn.context<Session>();
    if (session == nullptr) return gnet::Action::close;
    // One output buffer per loop thread, reused: all replies to this read go out in one write.
    thread_local std::string out;
    out.clear();
    const Progress p = process(keyspace_, *session, conn.peek(), out);
    conn.discard(p.consumed);
    if (!out.empty()) conn.write(out);
    if (out.capacity() > kKeepCapacity) std::string().swap(out);
    return p.close ? gnet::Action::close : gnet::Action::none;
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
  Keyspace keyspace_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"gnet-cpp RESP2 (Redis protocol) server"};
  std::string host = "127.0.0.1";
  int port = 6380;
  int loops = 1;
  bool reuse_port = false;
  cli.add_option("--host", host, "address to listen on (IPv4, IPv6 or name)")
      ->capture_default_str();
  cli.add_option("--port", port, "TCP port (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cli.add_option("--loops", loops, "event loops (threads)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cli.add_flag("--reuse-port", reuse_port, "one SO_REUSEPORT listener per loop");
  CLI11_PARSE(cli, argc, argv);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  RedisServer server;
  const bool v6 = host.find(':') != std::string::npos;
  const std::string where = "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto result = gnet::run(server, where,
                          {.num_event_loop = loops, .reuse_port = reuse_port, .ticker = true});
  if (!result) {
    std::fprintf(stderr, "redis: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
