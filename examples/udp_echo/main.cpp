// udp_echo — every datagram goes back to its sender, whole.
//
//   build/examples/udp_echo --port 9002 --loops 2 --reuse-port
//
// The loop receives datagrams in batches (recvmmsg) and sends the replies written while it
// hands them out with one sendmmsg; equal-sized replies to one peer go as one GSO send unless
// --no-offload (see docs/guide.md, "UDP"). To answer someone other than the sender, use
// c.send_to(data, address); to answer later from another thread, keep c.handle() and
// c.remote_addr() and call handle.async_send_to(data, address).
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

namespace {

std::atomic<gnet::Engine*> g_engine{nullptr};

void on_signal(int) {
  if (gnet::Engine* e = g_engine.load()) e->stop();
}

struct UdpEcho final : gnet::EventHandler {
  std::string where;
  gnet::Action on_boot(gnet::Engine& engine) override {
    g_engine.store(&engine);
    std::printf("udp_echo: listening on %s with %d loop(s)\n", where.c_str(), engine.num_loops());
    std::fflush(stdout);
    return gnet::Action::none;
  }
  // One call per datagram; write() answers that datagram's sender with one datagram (the
  // bytes are the received ones, so the batch sends them without copying).
  gnet::Action on_traffic(gnet::Conn& c) override {
    c.write(c.next());
    return gnet::Action::none;
  }
  void on_shutdown(gnet::Engine&) override { g_engine.store(nullptr); }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnet-cpp UDP echo server"};
  std::string host = "127.0.0.1";
  int port = 9002;
  int loops = 1;
  bool reuse_port = false;
  bool no_offload = false;
  app.add_option("--host", host, "address to listen on (a multicast group joins it)");
  app.add_option("--port", port, "UDP port")->check(CLI::Range(0, 65535));
  app.add_option("--loops", loops, "event loops (threads)")->check(CLI::Range(1, 1024));
  app.add_flag("--reuse-port", reuse_port, "one SO_REUSEPORT socket per loop (the kernel spreads datagrams)");
  app.add_flag("--no-offload", no_offload, "no UDP_SEGMENT/UDP_GRO (Options::udp_offload = false)");
  CLI11_PARSE(app, argc, argv);

  UdpEcho handler;
  bool v6 = host.find(':') != std::string::npos;
  handler.where = "udp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  gnet::Options options{.num_event_loop = loops, .reuse_port = reuse_port};
  options.udp_offload = !no_offload;
  auto result = gnet::run(handler, handler.where, options);
  if (!result) {
    std::fprintf(stderr, "udp_echo: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
