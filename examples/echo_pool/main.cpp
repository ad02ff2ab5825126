// echo_pool — gnet's "reactors + worker pool" model: the loop never blocks; each message goes
// to a WorkerPool task that blocks (sleeps --delay-ms, standing in for a database call) and
// hands the reply back to the connection's loop with ConnHandle::async_write.
//
//   build/examples/echo_pool --port 9001 --workers 256 --delay-ms 100
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

namespace {

struct PooledEcho final : gnet::EventHandler {
  PooledEcho(std::size_t workers, std::size_t queue, std::chrono::milliseconds delay)
      : pool(workers, queue), delay(delay) {}

  gnet::WorkerPool pool;
  std::chrono::milliseconds delay;
  std::string where;

  gnet::Action on_boot(gnet::Engine&) override {
    std::printf("echo_pool: listening on %s (%zu workers, %lld ms per message)\n", where.c_str(),
                pool.capacity(), static_cast<long long>(delay.count()));
    std::fflush(stdout);
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& c) override {
    // Copy out of the loop's buffer: the task runs on another thread after this returns.
    std::string message(c.next());
    gnet::ConnHandle handle = c.handle();
    bool queued = pool.try_submit([this, handle, message = std::move(message)]() mutable {
      std::this_thread::sleep_for(delay);  // the blocking business logic
      handle.async_write(std::move(message));
    });
    if (!queued) {
      // Never block the loop on a full pool: refuse this client instead.
      c.write("ERR busy\n");
      return gnet::Action::close;
    }
    return gnet::Action::none;
  }

};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnet-cpp echo with a worker pool for blocking logic"};
  std::string host = "127.0.0.1";
  int port = 9001;
  int loops = 1;
  bool reuse_port = false;
  std::size_t workers = 256;
  std::size_t queue = 100000;
  int delay_ms = 100;
  app.add_option("--host", host, "address to listen on");
  app.add_option("--port", port, "TCP port")->check(CLI::Range(0, 65535));
  app.add_option("--loops", loops, "event loops (threads)")->check(CLI::Range(1, 1024));
  app.add_flag("--reuse-port", reuse_port, "one SO_REUSEPORT listener per loop");
  app.add_option("--workers", workers, "worker threads")->check(CLI::Range(1, 10000));
  app.add_option("--queue", queue, "tasks waiting beyond the running ones")->check(CLI::Range(0, 10000000));
  app.add_option("--delay-ms", delay_ms, "simulated blocking work per message")->check(CLI::Range(0, 60000));
  CLI11_PARSE(app, argc, argv);

  PooledEcho handler(workers, queue, std::chrono::milliseconds(delay_ms));
  bool v6 = host.find(':') != std::string::npos;
  handler.where = "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto result = gnet::run(handler, handler.where,
                          {.num_event_loop = loops, .reuse_port = reuse_port, .stop_signals = {SIGINT, SIGTERM}});
  if (!result) {
    std::fprintf(stderr, "echo_pool: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
