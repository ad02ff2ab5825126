// proxy — a TCP proxy: every client gets its own backend connection, dialed from the client's
// loop (no thread hop), bytes piped both ways with flow control and half-close passed through.
//
//   build/examples/proxy --port 8000 --backend 127.0.0.1:9000 --loops 2
//
// Flow control: when one side's output queue passes Options::write_buffer_cap, on_high_water
// pauses reading its partner; on_low_water resumes it. So a backend that stops reading makes
// the proxy stop reading the client (the kernel's window then pushes back on the client)
// instead of buffering without bound.
//
// --send-proxy v1|v2 starts each backend connection with a PROXY protocol header naming the
// client (HAProxy's send-proxy / send-proxy-v2), so a backend that reads it (gnet-cpp's
// `?proxy_protocol=1` listeners, e.g. examples/http --proxy-protocol; nginx's proxy_protocol;
// HAProxy's accept-proxy) sees the real client address instead of the proxy's.
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace {

// Each side's context: its partner (same loop).
struct Link {
  gnet::ConnHandle peer;
};

struct Proxy final : gnet::EventHandler {
  std::string listen_url;
  std::string backend_url;
  std::chrono::milliseconds dial_timeout{5000};
  std::optional<gnet::ProxyHeaderVersion> send_proxy;  // --send-proxy

  gnet::Action on_boot(gnet::Engine& engine) override {
    std::printf("proxy: listening on %s -> %s with %d loop(s)\n", listen_url.c_str(), backend_url.c_str(),
                engine.num_loops());
    std::fflush(stdout);
    return gnet::Action::none;
  }

  gnet::Action on_open(gnet::Conn& c) override {
    if (c.listener_index() < 0) return gnet::Action::none;  // a backend we dialed: linked below
    c.pause_read();                                           // nothing to forward to yet
    gnet::ConnHandle client = c.handle();
    gnet::Loop& loop = c.loop();
    loop.dial(backend_url, dial_timeout, [this, &loop, client](std::error_code ec, gnet::ConnHandle backend) {
      gnet::Conn* front = loop.lookup(client);
      if (ec) {
        if (front != nullptr) front->close();  // backend down: a clean close for the client
        return;
      }
      gnet::Conn* back = loop.lookup(backend);
      if (front == nullptr) {  // the client left while we were dialing
        if (back != nullptr) back->close();
        return;
      }
      if (back == nullptr) {  // the backend opened and was reset at once: as if it were down
        front->close();
        return;
      }
      front->set_context(Link{backend});
      back->set_context(Link{client});
      // The header goes first: nothing of the client's has been read yet.
      if (send_proxy) back->write(gnet::make_proxy_header(*send_proxy, front->remote_addr(), front->local_addr()));
      front->resume_read();
    });
    return gnet::Action::none;
  }

  static gnet::Conn* partner(gnet::Conn& c) {
    Link* link = c.context<Link>();
    return link ? c.loop().lookup(link->peer) : nullptr;
  }

  gnet::Action on_traffic(gnet::Conn& c) override {
    gnet::Conn* peer = partner(c);
    if (peer == nullptr) return c.context<Link>() ? gnet::Action::close : gnet::Action::none;
    peer->write(c.next());
    return gnet::Action::none;
  }

  // Half-close passes through: the peer gets our FIN once everything before it is written.
  gnet::Action on_eof(gnet::Conn& c) override {
    gnet::Conn* peer = partner(c);
    if (peer == nullptr) return gnet::Action::close;
    peer->shutdown_write();
    return gnet::Action::none;
  }

  gnet::Action on_close(gnet::Conn& c, std::error_code error) override {
    if (gnet::Conn* peer = partner(c)) {
      // An error (reset, timeout) tears the pair down; a clean close already sent its FIN.
      if (error) {
        peer->close();
      } else {
        peer->shutdown_write();
      }
    }
    return gnet::Action::none;
  }

  void on_high_water(gnet::Conn& c) override {
    if (gnet::Conn* peer = partner(c)) peer->pause_read();
  }
  void on_low_water(gnet::Conn& c) override {
    if (gnet::Conn* peer = partner(c)) peer->resume_read();
  }

};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnet-cpp TCP proxy"};
  std::string host = "127.0.0.1";
  int port = 8000;
  int loops = 1;
  bool reuse_port = false;
  std::string backend;
  std::size_t write_cap = 1 << 20;
  app.add_option("--host", host, "address to listen on");
  app.add_option("--port", port, "TCP port")->check(CLI::Range(0, 65535));
  app.add_option("--loops", loops, "event loops (threads)")->check(CLI::Range(1, 1024));
  app.add_flag("--reuse-port", reuse_port, "one SO_REUSEPORT listener per loop");
  app.add_option("--backend", backend, "backend HOST:PORT (IPv6 as [::1]:PORT)")->required();
  app.add_option("--write-cap", write_cap, "per-connection output high-water mark, bytes")
      ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 30));
  Proxy proxy;
  const std::map<std::string, gnet::ProxyHeaderVersion> versions = {{"v1", gnet::ProxyHeaderVersion::v1},
                                                                    {"v2", gnet::ProxyHeaderVersion::v2}};
  app.add_option("--send-proxy", proxy.send_proxy,
                 "start each backend connection with a PROXY protocol header naming the client (v1 text, v2 binary)")
      ->transform(CLI::CheckedTransformer(versions));
  CLI11_PARSE(app, argc, argv);

  bool v6 = host.find(':') != std::string::npos;
  proxy.listen_url = "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  proxy.backend_url = "tcp://" + backend;
  if (auto parsed = gnet::parse_address(proxy.backend_url); !parsed) {
    std::fprintf(stderr, "proxy: --backend: %s\n", parsed.error().message().c_str());
    return 1;
  }
  auto result = gnet::run(proxy, proxy.listen_url,
                          {.num_event_loop = loops,
                           .reuse_port = reuse_port,
                           .write_buffer_cap = write_cap,
                           .stop_signals = {SIGINT, SIGTERM}});
  if (!result) {
    std::fprintf(stderr, "proxy: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
