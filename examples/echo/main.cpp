// echo — the smallest gnet-cpp server: every byte a client sends comes straight back.
//
//   build/examples/echo --port 9000 --loops 4 --reuse-port
//   build/examples/echo --unix /tmp/echo.sock
//   build/examples/echo --port 9443 --tls-cert server.crt --tls-key server.key      (tls://)
//   build/examples/echo --port 9443 --tls-cert server.crt --tls-key server.key
//                       --tls-ca ca.crt --tls-require-client-cert                   (mutual TLS)
//
//   kill -USR2 <pid>    restart without refusing a connection: starts the binary again with
//                       --upgrade-from PATH, hands the listening sockets over, lets the open
//                       connections finish (up to --shutdown-timeout), exits (docs/deploy.md)
//
// With TLS the handler is the same: gnet runs the handshake before on_open, and on_traffic and
// write() deal in plaintext. A handshake that fails is logged on stderr with its reason.
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include "../common/binary_upgrade.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <system_error>

namespace {

std::atomic<gnet::Engine*> g_engine{nullptr};

void on_signal(int) {
  if (gnet::Engine* e = g_engine.load()) e->stop();  // async-signal-safe
}

struct Echo final : gnet::EventHandler {
  std::string scheme;  // "tcp", "tls" or "unix"
  std::string where;   // the address given to run() (unix: the one printed)
  const char* tls_note = "";
  example::BinaryUpgrade* upgrade = nullptr;

  gnet::Action on_boot(gnet::Engine& engine) override {
    g_engine.store(&engine);
    if (upgrade != nullptr) upgrade->attach(&engine);
    std::string shown = where;
    if (scheme != "unix") {  // the bound address (--port 0 resolved)
      const auto addrs = engine.listen_addresses();
      if (!addrs.empty()) shown = scheme + "://" + addrs.front().to_string();
    }
    std::printf("echo: listening on %s with %d loop(s)%s (pid %d)\n", shown.c_str(), engine.num_loops(), tls_note,
                static_cast<int>(::getpid()));
    std::fflush(stdout);
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& c) override {
    c.write(c.next());
    return gnet::Action::none;
  }

  gnet::Action on_close(gnet::Conn& c, std::error_code error) override {
    // A TLS failure (a handshake refused, a corrupt record) says why; other closes are routine.
    if (error && error.category() == gnet::tls_category()) {
      std::fprintf(stderr, "echo: TLS with %s failed: %s\n", c.remote_addr().to_string().c_str(),
                   error.message().c_str());
    }
    return gnet::Action::none;
  }

  void on_shutdown(gnet::Engine&) override {
    g_engine.store(nullptr);
    if (upgrade != nullptr) upgrade->attach(nullptr);
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
  std::string tls_cert, tls_key, tls_ca;
  bool require_client_cert = false;
  std::string upgrade_from;
  double shutdown_timeout = 5;
  app.add_option("--host", host, "address to listen on (IPv4, IPv6 or name)");
  app.add_option("--port", port, "TCP port")->check(CLI::Range(0, 65535));
  app.add_option("--loops", loops, "event loops (threads)")->check(CLI::Range(1, 1024));
  app.add_flag("--reuse-port", reuse_port, "one SO_REUSEPORT listener per loop");
  app.add_flag("--edge-triggered", edge, "edge-triggered epoll");
  app.add_option("--unix", unix_path, "serve a Unix stream socket at this path instead of TCP");
  app.add_option("--tls-cert", tls_cert, "TLS: certificate chain (PEM, leaf first); with --tls-key, listen on tls://");
  app.add_option("--tls-key", tls_key, "TLS: the certificate's private key (PEM)");
  app.add_option("--tls-ca", tls_ca, "TLS: CAs (PEM) that client certificates are verified against");
  app.add_flag("--tls-require-client-cert", require_client_cert,
               "TLS: refuse clients without a certificate from --tls-ca (mutual TLS)");
  app.add_option("--upgrade-from", upgrade_from,
                 "take the listening sockets from the process that started this one (SIGUSR2)");
  app.add_option("--shutdown-timeout", shutdown_timeout,
                 "stop and hand-over: how long open connections may take to finish (s)")
      ->check(CLI::Range(0.0, 3600.0));
  CLI11_PARSE(app, argc, argv);

  const bool tls = !tls_cert.empty() || !tls_key.empty();
  const char* flag_error = nullptr;
  if (tls_cert.empty() != tls_key.empty()) {
    flag_error = "--tls-cert and --tls-key go together";
  } else if (!tls && (!tls_ca.empty() || require_client_cert)) {
    flag_error = "--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key";
  } else if (require_client_cert && tls_ca.empty()) {
    flag_error = "--tls-require-client-cert needs --tls-ca (the CAs client certificates must come from)";
  } else if (tls && !unix_path.empty()) {
    flag_error = "TLS is served over TCP only, not with --unix";
  }
  if (flag_error != nullptr) {
    std::fprintf(stderr, "echo: %s\n", flag_error);
    return 2;
  }

  example::BinaryUpgrade upgrade("echo", argc, argv);  // before any thread: blocks SIGUSR2
  Echo echo;
  echo.upgrade = &upgrade;
  if (!unix_path.empty()) {
    echo.scheme = "unix";
    echo.where = "unix://" + unix_path;
  } else {
    bool v6 = host.find(':') != std::string::npos;
    echo.scheme = tls ? "tls" : "tcp";
    echo.where = echo.scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  gnet::Options options;
  options.num_event_loop = loops;
  options.reuse_port = reuse_port;
  options.edge_triggered_io = edge;
  options.shutdown_timeout = std::chrono::milliseconds(static_cast<long long>(shutdown_timeout * 1000));
  if (tls) {
    options.tls.certificate = {tls_cert, tls_key};
    options.tls.ca_file = tls_ca;
    options.tls.require_client_certificate = require_client_cert;
    echo.tls_note = require_client_cert ? ", client certificates required" : "";
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Sockets handed over (--upgrade-from) or passed by systemd (LISTEN_FDS), if any.
  auto inherited = example::BinaryUpgrade::inherit(upgrade_from);
  if (!inherited) {
    std::fprintf(stderr, "echo: %s\n", inherited.error().message().c_str());
    return 1;
  }
  auto result = gnet::run(echo, echo.where, options, std::move(*inherited));
  if (!result) {
    std::fprintf(stderr, "echo: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
