// multiproto — one engine, three protocols: gnet::rotate() serves several listeners from the same
// loops, and the handler tells their connections apart by Conn::listener_index().
//
//   build/examples/multiproto --port 9100 --unix /tmp/multiproto.sock --loops 2
//
//   listener 0  tcp://HOST:PORT    echo (bytes back as they come)
//   listener 1  udp://HOST:PORT    echo, one datagram back per datagram
//   listener 2  unix://PATH        admin, one command per line:
//                                    stats    TCP and admin connections open and accepted, UDP datagrams
//                                    metrics  the engine's metrics, Prometheus text, then "# end"
//                                    stop     graceful stop of the whole engine
//
// Why one engine and not three: the loops, their threads and their read buffers are shared, so
// an idle protocol costs nothing, and the admin socket sees the same engine it controls. A
// connection's protocol never changes, so dispatch is one switch on the listener index per
// callback; per-protocol state lives in the connection's context where it needs any.
//
// SIGINT/SIGTERM stop gracefully through Options::stop_signals: no global engine pointer and
// no signal handler in this file.
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

enum Listener : int { tcp_echo = 0, udp_echo = 1, admin = 2, kListeners = 3 };

// A command line longer than this is refused (the connection is told why and closed); with
// Options::max_inbound_buffered below, an admin client can make the server hold no more.
constexpr std::size_t kMaxAdminLine = 256;

class MultiProto final : public gnet::EventHandler {
 public:
  explicit MultiProto(std::array<std::string, kListeners> addresses) : addresses_(std::move(addresses)) {}

  gnet::Action on_boot(gnet::Engine& engine) override {
    engine_ = &engine;
    std::printf("multiproto: serving %s (echo), %s (echo), %s (admin) with %d loop(s)\n", addresses_[0].c_str(),
                addresses_[1].c_str(), addresses_[2].c_str(), engine.num_loops());
    std::fflush(stdout);
    return gnet::Action::none;
  }

  gnet::Action on_open(gnet::Conn& c) override {
    if (c.listener_index() < 0) return gnet::Action::none;
    const auto i = static_cast<std::size_t>(c.listener_index());
    open_[i].fetch_add(1, std::memory_order_relaxed);
    accepted_[i].fetch_add(1, std::memory_order_relaxed);
    return gnet::Action::none;
  }

  gnet::Action on_close(gnet::Conn& c, std::error_code) override {
    if (c.listener_index() >= 0) open_[static_cast<std::size_t>(c.listener_index())].fetch_sub(1, std::memory_order_relaxed);
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& c) override {
    switch (c.listener_index()) {
      case udp_echo:  // a UDP socket calls on_traffic once per datagram; write() answers its sender
        datagrams_.fetch_add(1, std::memory_order_relaxed);
        [[fallthrough]];
      case tcp_echo:
        c.write(c.next());
        return gnet::Action::none;
      case admin:
        return serve_admin(c);
      default:
        return gnet::Action::close;
    }
  }

 private:
  gnet::Action serve_admin(gnet::Conn& c) {
    for (;;) {
      std::string_view buffered = c.peek();
      const std::size_t eol = buffered.find('\n');
      if (eol == std::string_view::npos ? buffered.size() > kMaxAdminLine : eol > kMaxAdminLine) {
        c.write("error: line longer than " + std::to_string(kMaxAdminLine) + " bytes\n");
        return gnet::Action::close;
      }
      if (eol == std::string_view::npos) return gnet::Action::none;  // wait for the rest of the line
      std::string_view line = buffered.substr(0, eol);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const std::string command(line);
      c.discard(eol + 1);
      if (command == "stats") {
        std::string out;
        for (std::size_t i : {std::size_t{tcp_echo}, std::size_t{admin}}) {
          out += std::string(i == tcp_echo ? "tcp echo " : "admin ") + addresses_[i] + ": open " +
                 std::to_string(open_[i].load(std::memory_order_relaxed)) + ", accepted " +
                 std::to_string(accepted_[i].load(std::memory_order_relaxed)) + "\n";
        }
        out += "udp echo " + addresses_[udp_echo] + ": datagrams " +
               std::to_string(datagrams_.load(std::memory_order_relaxed)) + "\n";
        c.write(out);
      } else if (command == "metrics") {
        c.write(gnet::to_prometheus(engine_->metrics()) + "# end\n");
      } else if (command == "stop") {
        c.write("stopping\n");
        engine_->stop();  // graceful: this reply is flushed before the connection closes
      } else if (!command.empty()) {
        c.write("error: unknown command '" + command + "' (stats, metrics, stop)\n");
      }
    }
  }

  const std::array<std::string, kListeners> addresses_;
  gnet::Engine* engine_ = nullptr;
  // Per stream listener (an unconnected UDP socket has no on_open: it serves every sender).
  std::array<std::atomic<std::int64_t>, kListeners> open_{};
  std::array<std::atomic<std::int64_t>, kListeners> accepted_{};
  std::atomic<std::uint64_t> datagrams_{0};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnet-cpp multiproto: TCP echo, UDP echo and a Unix admin socket in one engine"};
  std::string host = "127.0.0.1", unix_path = "/tmp/gnet-multiproto.sock";
  int port = 9100, loops = 1;
  app.add_option("--host", host, "address for the TCP and UDP listeners");
  app.add_option("--port", port, "port of both the TCP and the UDP echo")->check(CLI::Range(1, 65535));
  app.add_option("--unix", unix_path, "path of the admin socket");
  app.add_option("--loops", loops, "event loops (threads)")->check(CLI::Range(1, 1024));
  CLI11_PARSE(app, argc, argv);

  const bool v6 = host.find(':') != std::string::npos;
  const std::string where = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  MultiProto handler({"tcp://" + where, "udp://" + where, "unix://" + unix_path});
  gnet::Options options;
  options.num_event_loop = loops;
  options.max_inbound_buffered = 64 * 1024;  // echo consumes everything; admin lines are short
  options.unix_mode = 0600;                  // the admin socket can stop the server
  options.stop_signals = {SIGINT, SIGTERM};
  auto result = gnet::rotate(handler, {"tcp://" + where, "udp://" + where, "unix://" + unix_path}, options);
  if (!result) {
    std::fprintf(stderr, "multiproto: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
