// echo — the smallest gnet-cpp server: every byte a client sends comes straight back.
//
//   build/examples/echo --port 9000 --loops 4 --reuse-port
//   build/examples/echo --unix /tmp/echo.sock
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

namespace {

std::atomic<gnet::Engine*> g_engine{nullptr};

void on_signal(int) {
  if (gnet::Engine* e = g_engine.load()) e->stop();  // async-signal-safe
}

struct Echo final : gnet::EventHandler {
  std::string where;

  gnet::Action on_boot(gnet::Engine& engine) override {
    g_engine.store(&engine);
    std::printf("echo: listening on %s with %d loop(s)\n", where.c_str(), engine.num_loops());
    std::fflush(stdout);
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& c) override {
    c.write(c.next());
    return gnet::Action::none;
  }

  void on_shutdown(gnet::Engine&) override {
    g_engine.store(nullptr);
    std::printf("echo: stopped\n");
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnet-cpp echo server"};
  std::string host = "127.0.0.1";
  int port = 9000;
  int loops = 1;
  bool reuse_port = false;
  bool edge = false;
  std::string unix_path;
  app.add_option("--host", host, "address to listen on (IPv4, IPv6 or name)");
  app.add_option("--port", port, "TCP port")->check(CLI::Range(0, 65535));
  app.add_option("--loops", loops, "event loops (threads)")->check(CLI::Range(1, 1024));
  app.add_flag("--reuse-port", reuse_port, "one SO_REUSEPORT listener per loop");
  app.add_flag("--edge-triggered", edge, "edge-triggered epoll");
  app.add_option("--unix", unix_path, "serve a Unix stream socket at this path instead of TCP");
  CLI11_PARSE(app, argc, argv);

  Echo echo;
  if (!unix_path.empty()) {
    echo.where = "unix://" + unix_path;
  } else {
    bool v6 = host.find(':') != std::string::npos;
    echo.where = "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto result = gnet::run(echo, echo.where,
                          {.num_event_loop = loops, .reuse_port = reuse_port, .edge_triggered_io = edge});
  if (!result) {
    std::fprintf(stderr, "echo: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
