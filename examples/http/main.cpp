// http — an HTTP/1.1 server on gnet-cpp: keep-alive, pipelining, static files.
//
//   build/examples/http --port 8081 --loops 4 --reuse-port --root ./public
//   curl -i http://127.0.0.1:8081/  /json  /hello.txt   (POST /echo returns the body)
//   curl http://127.0.0.1:8081/metrics                    (Prometheus text format; --no-metrics)
//   build/examples/http --port 8443 --tls-cert server.crt --tls-key server.key   (https: tls://)
//   curl --cacert ca.crt https://localhost:8443/
//   build/examples/http --proxy-protocol --whoami   (behind HAProxy's send-proxy-v2; GET /whoami
//                                                    says which client the PROXY header named)
//
// The protocol logic lives in http_parser.* and http_app.* (unit-tested without sockets); this
// file only connects it to gnet: per connection a Session (parser state) as the Conn context;
// serve() answers the complete requests in the input, one write per read, while the outbound
// queue is under its cap, and streams static files (file_sender.hpp); the ticker refreshes the
// Date header's clock. With --tls-cert/--tls-key the same handler serves HTTPS: gnet runs the
// handshake (ALPN "http/1.1") before on_open, and the handler sees plaintext; only static files
// notice (no sendfile(2): the bytes must go through TLS).
//
// kill -USR2 <pid> restarts it without refusing a connection (the nginx binary upgrade; see
// docs/deploy.md): the binary starts again with --upgrade-from PATH and takes the listening
// sockets over; this process answers each open connection's next request with
// "Connection: close", and exits once they are gone (or after --shutdown-timeout).
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <utility>

#include "../common/binary_upgrade.hpp"
#include "file_sender.hpp"
#include "http_app.hpp"

namespace {

using namespace http_example;

std::atomic<gnet::Engine*> g_engine{nullptr};

// gnet's outbound cap per connection (Options::write_buffer_cap, its default): responses stop
// being produced past it, and a static file moves at most this much per loop turn.
constexpr std::size_t kWriteBufferCap = 1024 * 1024;

// Pipelined requests a client may have sent ahead of responses it has not read yet, beyond one
// request in progress: while the server waits for the peer to read (outbound queue full) it
// reads no more, but each drain lets one more read in.
constexpr std::size_t kPipelinedBacklog = 1024 * 1024;

// The connection's inbound bound (gnet closes it with Errc::inbound_limit past this): one
// request at its largest (head + raw body) plus the pipelined backlog.
std::size_t max_inbound_buffered(const Limits& limits) {
  return max_request_bytes(limits) + kPipelinedBacklog;
}

void on_signal(int) {
  if (gnet::Engine* e = g_engine.load()) e->stop();  // async-signal-safe
}

// Whole seconds since the epoch, stored by on_tick (loop 0) and read by every loop.
std::atomic<std::int64_t> g_clock{0};

// The Date header value and the responses built around it. Each loop thread re-formats them
// only when the ticker's clock moved.
const ResponseCache& current_responses() {
  thread_local std::int64_t formatted_for = -1;
  thread_local ResponseCache cache;
  const std::int64_t now = g_clock.load(std::memory_order_relaxed);
  if (now != formatted_for) {
    cache.set_date(http_date(static_cast<std::time_t>(now)));
    formatted_for = now;
  }
  return cache;
}

class HttpServer final : public gnet::EventHandler {
 public:
  HttpServer(const App& app, std::chrono::nanoseconds header_timeout, bool tls, example::BinaryUpgrade& upgrade)
      : app_(app), header_timeout_(header_timeout), scheme_(tls ? "tls" : "tcp"), upgrade_(upgrade) {}

  gnet::Action on_boot(gnet::Engine& engine) override {
    g_engine.store(&engine);
    upgrade_.attach(&engine);
    const auto addrs = engine.listen_addresses();
    std::printf("http: listening on %s://%s with %d loop(s)%s%s (pid %d)\n", scheme_,
                addrs.empty() ? "?" : addrs.front().to_string().c_str(), engine.num_loops(),
                app_.root().empty() ? "" : ", static files from ", app_.root().c_str(),
                static_cast<int>(::getpid()));
    std::fflush(stdout);
    return gnet::Action::none;
  }

  void on_shutdown(gnet::Engine&) override {
    g_engine.store(nullptr);
    upgrade_.attach(nullptr);
    std::printf("http: stopped\n");
    std::fflush(stdout);
  }

  gnet::Action on_open(gnet::Conn& conn) override {
    // std::any holds copyable values only; a Session owns descriptors, so it is held by pointer.
    auto session = std::make_shared<Session>(app_.limits());
    if (app_.whoami()) {
      // Behind a balancer with --proxy-protocol, remote_addr() is the client the header named.
      session->whoami = "client=" + conn.remote_addr().to_string() + " pid=" + std::to_string(::getpid()) + "\n";
    }
    conn.set_context(std::move(session));
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& conn) override {
    Session* session = session_of(conn);
    if (session == nullptr) return gnet::Action::close;
    if (!session->wind_up) {
      gnet::Engine* engine = g_engine.load(std::memory_order_relaxed);
      session->wind_up = engine != nullptr && engine->handed_over();
    }
    return serve(conn, *session);
  }

  gnet::Action on_close(gnet::Conn& conn, std::error_code error) override {
    // A TLS failure (a handshake refused: plaintext on the port, no common version or ALPN
    // protocol, ...) says why; other closes are routine.
    if (error && error.category() == gnet::tls_category()) {
      std::fprintf(stderr, "http: TLS with %s failed: %s\n", conn.remote_addr().to_string().c_str(),
                   error.message().c_str());
    }
    Session* session = session_of(conn);
    if (session != nullptr && session->head_timer != 0) conn.loop().cancel(session->head_timer);
    return gnet::Action::none;
  }

  // The peer has read half the queued output: a static file continues.
  void on_low_water(gnet::Conn& conn) override {
    Session* session = session_of(conn);
    if (session != nullptr && session->file.active() && serve(conn, *session) == gnet::Action::close) {
      conn.close();
    }
  }

  gnet::TickResult on_tick() override {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto secs = duration_cast<seconds>(now.time_since_epoch());
    g_clock.store(secs.count(), std::memory_order_relaxed);
    // Wake again just after the next second boundary, so Date is never a second stale.
    const auto next = secs + seconds(1);
    return {duration_cast<nanoseconds>(next - now.time_since_epoch()) + milliseconds(1)};
  }

 private:
  static Session* session_of(gnet::Conn& conn) {
    auto* held = conn.context<std::shared_ptr<Session>>();
    return held == nullptr ? nullptr : held->get();
  }

  // Sends what the connection owes, in order: the rest of a static file, then the responses to
  // the complete requests buffered, as long as the outbound queue is under its cap. The
  // responses to one read go out in one write (one per kOutputPerWrite when they are large),
  // from one output buffer per loop thread. Whatever stays unconsumed is handed back by gnet:
  // on_traffic again once the queue drains (backpressure), on_low_water for a file.
  gnet::Action serve(gnet::Conn& conn, Session& s) {
    thread_local std::string out;
    const ResponseCache& cached = current_responses();
    gnet::Action action = gnet::Action::none;
    bool consumed = false;      // some request completed (or failed) in this call
    bool head_pending = false;  // the input ends with part of a request head
    for (;;) {
      if (s.file.active()) {
        const SendState sent = send_file(conn, s.file, kWriteBufferCap);
        if (sent == SendState::failed) {
          action = gnet::Action::close;
          break;
        }
        if (sent != SendState::done) {
          // No new requests are read while the file streams: the kernel holds them back.
          if (!s.reads_paused) conn.pause_read();
          s.reads_paused = true;
          if (sent == SendState::yielded) continue_later(conn);
          break;
        }
        s.file.clear();
        if (s.reads_paused) conn.resume_read();  // gnet hands over pipelined requests waiting
        s.reads_paused = false;
        if (s.close_after_file) {
          action = gnet::Action::close;
          break;
        }
      }
      if (conn.outbound_full()) break;
      out.clear();
      const Progress p = process(app_, s, conn.peek(), cached, out, kOutputPerWrite);
      conn.discard(p.consumed);
      consumed = consumed || p.consumed != 0;
      head_pending = p.head_pending;
      if (!out.empty()) conn.write(out);
      if (p.close) {
        action = gnet::Action::close;
        break;
      }
      if (s.file.active()) continue;  // its body goes next
      if (!p.more) break;
    }
    if (out.capacity() > kKeepCapacity) std::string().swap(out);  // after a large response
    if (action != gnet::Action::close) watch_head(conn, s, head_pending, consumed);
    return action;
  }

  // The request-head deadline (slowloris): a head must be complete within header_timeout_ of
  // its first byte, however its bytes trickle in. At most one timer per connection, armed when
  // a partial head is first left over; when it fires it re-arms only if a head is still
  // partly received, for what is left of that head's deadline.
  void watch_head(gnet::Conn& conn, Session& s, bool head_pending, bool consumed) {
    if (!head_pending) {
      s.head_since.reset();
      return;
    }
    if (header_timeout_ == std::chrono::nanoseconds::zero()) return;
    // A request completed in this call: the partial head is the next one's, started now.
    if (consumed || !s.head_since) s.head_since = std::chrono::steady_clock::now();
    if (s.head_timer == 0) arm_head_timer(conn, s, header_timeout_);
  }

  void arm_head_timer(gnet::Conn& conn, Session& s, std::chrono::nanoseconds delay) {
    gnet::Loop& loop = conn.loop();
    s.head_timer = loop.run_after(delay, [this, &loop, handle = conn.handle()] {
      gnet::Conn* c = loop.lookup(handle);
      Session* session = c == nullptr ? nullptr : session_of(*c);
      if (session == nullptr) return;
      session->head_timer = 0;
      if (!session->head_since || c->closing()) return;
      const auto elapsed = std::chrono::steady_clock::now() - *session->head_since;
      if (elapsed < header_timeout_) {
        arm_head_timer(*c, *session, header_timeout_ - elapsed);
        return;
      }
      std::string out;
      append_error(408, "request head not received in time", current_responses().date(), out);
      c->write(out);
      c->close();
    });
  }

  // A file whose reader keeps up: continue in a later loop turn, after other connections.
  void continue_later(gnet::Conn& conn) {
    gnet::Loop& loop = conn.loop();
    (void)loop.post([this, &loop, handle = conn.handle()] {
      gnet::Conn* c = loop.lookup(handle);
      if (c == nullptr || c->closing()) return;
      Session* s = session_of(*c);
      if (s != nullptr && s->file.active() && serve(*c, *s) == gnet::Action::close) c->close();
    });
  }

  // Responses are written once this much has been produced (one write per read below it).
  static constexpr std::size_t kOutputPerWrite = 256 * 1024;
  static constexpr std::size_t kKeepCapacity = 2 * 1024 * 1024;
  const App& app_;
  const std::chrono::nanoseconds header_timeout_;  // zero: no request-head deadline
  const char* const scheme_;                       // "tcp" or "tls", for the startup line
  example::BinaryUpgrade& upgrade_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"gnet-cpp HTTP/1.1 server: /, /json, POST /echo, /metrics and static files from --root"};
  std::string host = "127.0.0.1";
  int port = 8081;
  int loops = 1;
  bool reuse_port = false;
  int idle_timeout = 60;
  double header_timeout = 10;
  std::string root;
  bool serve_dotfiles = false;
  std::string tls_cert, tls_key;
  bool metrics = true;
  std::string upgrade_from;
  double shutdown_timeout = 5;
  bool proxy_protocol = false;
  bool whoami = false;
  cli.add_option("--host", host, "address to listen on (IPv4, IPv6 or name)")
      ->capture_default_str();
  cli.add_option("--port", port, "TCP port (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cli.add_option("--loops", loops, "event loops (threads)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cli.add_flag("--reuse-port", reuse_port, "one SO_REUSEPORT listener per loop");
  cli.add_option("--root", root, "serve static files from this directory")
      ->check(CLI::ExistingDirectory);
  cli.add_flag("--serve-dotfiles", serve_dotfiles,
               "serve paths with a segment starting with '.' (.git, .env); refused with 404 by default");
  cli.add_option("--header-timeout", header_timeout,
                 "a request head must arrive within this long of its first byte, else 408 and "
                 "close (s, 0 = no limit)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cli.add_option("--idle-timeout", idle_timeout, "close connections idle this long (s, 0 = never)")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  cli.add_flag("--metrics,!--no-metrics", metrics,
               "serve the engine's metrics at GET /metrics (Prometheus text format)")
      ->capture_default_str();
  cli.add_option("--tls-cert", tls_cert,
                 "TLS: certificate chain (PEM, leaf first); with --tls-key, serve HTTPS (tls://, ALPN http/1.1)");
  cli.add_option("--tls-key", tls_key, "TLS: the certificate's private key (PEM)");
  cli.add_flag("--proxy-protocol", proxy_protocol,
               "every connection starts with a PROXY protocol header (v1 or v2, as HAProxy's "
               "send-proxy/send-proxy-v2 sends it): listens on ...?proxy_protocol=1");
  cli.add_flag("--whoami", whoami,
               "serve GET /whoami: \"client=ADDR pid=PID\", ADDR as Conn::remote_addr() reports it");
  cli.add_option("--upgrade-from", upgrade_from,
                 "take the listening sockets from the process that started this one (SIGUSR2)");
  cli.add_option("--shutdown-timeout", shutdown_timeout,
                 "stop and hand-over: how long open connections may take to finish (s)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (tls_cert.empty() != tls_key.empty()) {
    std::fprintf(stderr, "http: --tls-cert and --tls-key go together\n");
    return 2;
  }
  const bool tls = !tls_cert.empty();

  std::string error;
  AppConfig config{.root = root, .serve_dotfiles = serve_dotfiles, .whoami = whoami};
  if (metrics) {
    // Runs on the loop thread that received the request; Engine::metrics may be called from any.
    config.metrics = [](std::string& out) {
      if (gnet::Engine* e = g_engine.load()) gnet::append_prometheus(out, e->metrics());
    };
  }
  const App app(std::move(config), &error);
  if (!error.empty()) {
    std::fprintf(stderr, "http: %s\n", error.c_str());
    return 1;
  }

  g_clock.store(static_cast<std::int64_t>(std::time(nullptr)));
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  example::BinaryUpgrade upgrade("http", argc, argv);  // before any thread: blocks SIGUSR2
  HttpServer server(app,
                    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(header_timeout)),
                    tls, upgrade);
  const bool v6 = host.find(':') != std::string::npos;
  const std::string where =
      (tls ? "tls://" : "tcp://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
      (proxy_protocol ? "?proxy_protocol=1" : "");
  gnet::Options options{.num_event_loop = loops,
                        .reuse_port = reuse_port,
                        .write_buffer_cap = kWriteBufferCap,
                        .max_inbound_buffered = max_inbound_buffered(app.limits()),
                        .ticker = true,
                        .idle_timeout = std::chrono::seconds(idle_timeout),
                        .shutdown_timeout = std::chrono::milliseconds(static_cast<long long>(shutdown_timeout * 1000))};
  if (tls) {
    options.tls.certificate = {tls_cert, tls_key};
    options.tls.alpn = {"http/1.1"};  // a client offering only h2 is refused (no_alpn_match)
  }
  // Sockets handed over (--upgrade-from) or passed by systemd (LISTEN_FDS), if any.
  auto inherited = example::BinaryUpgrade::inherit(upgrade_from);
  if (!inherited) {
    std::fprintf(stderr, "http: %s\n", inherited.error().message().c_str());
    return 1;
  }
  auto result = gnet::run(server, where, options, std::move(*inherited));
  if (!result) {
    std::fprintf(stderr, "http: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
