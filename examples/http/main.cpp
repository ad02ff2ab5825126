// http — an HTTP/1.1 server on gnet-cpp: keep-alive, pipelining, static files.
//
//   build/examples/http --port 8081 --loops 4 --reuse-port --root ./public
//   curl -i http://127.0.0.1:8081/  /json  /hello.txt   (POST /echo returns the body)
//
// The protocol logic lives in http_parser.* and http_app.* (unit-tested without sockets); this
// file only connects it to gnet: per connection a Session (parser state) as the Conn context;
// on_traffic answers every complete request in the input with one write; the ticker refreshes
// the Date header's clock.
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

#include "http_app.hpp"

namespace {

using namespace http_example;

std::atomic<gnet::Engine*> g_engine{nullptr};

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
  explicit HttpServer(const App& app) : app_(app) {}

  gnet::Action on_boot(gnet::Engine& engine) override {
    g_engine.store(&engine);
    const auto addrs = engine.listen_addresses();
    std::printf("http: listening on tcp://%s with %d loop(s)%s%s\n",
                addrs.empty() ? "?" : addrs.front().to_string().c_str(), engine.num_loops(),
                app_.root().empty() ? "" : ", static files from ", app_.root().c_str());
    std::fflush(stdout);
    return gnet::Action::none;
  }

  void on_shutdown(gnet::Engine&) override {
    g_engine.store(nullptr);
    std::printf("http: stopped\n");
    std::fflush(stdout);
  }

  gnet::Action on_open(gnet::Conn& conn) override {
    conn.set_context(Session(app_.limits()));
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& conn) override {
    Session* session = conn.context<Session>();
    if (session == nullptr) return gnet::Action::close;
    const ResponseCache& cached = current_responses();
    // One output buffer per loop thread, reused: the responses to one read go out in one write
    // (a read of many pipelined requests with large responses: one write per kOutputPerWrite).
    // Requests are answered only while the connection's outbound queue is under its cap; the
    // rest stays unconsumed and the engine calls on_traffic again once the peer has read enough
    // (gnet's backpressure), so a client that pipelines without reading holds the server to
    // write_buffer_cap + one write of output.
    thread_local std::string out;
    Progress p;
    do {
      if (conn.outbound_full()) break;
      out.clear();
      p = process(app_, *session, conn.peek(), cached, out, kOutputPerWrite);
      conn.discard(p.consumed);
      if (!out.empty()) conn.write(out);
    } while (p.more && !p.close);
    if (out.capacity() > kKeepCapacity) std::string().swap(out);  // after a large response
    return p.close ? gnet::Action::close : gnet::Action::none;
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
  // Responses are written once this much has been produced (one write per read below it).
  static constexpr std::size_t kOutputPerWrite = 256 * 1024;
  static constexpr std::size_t kKeepCapacity = 2 * 1024 * 1024;
  const App& app_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"gnet-cpp HTTP/1.1 server: /, /json, POST /echo and static files from --root"};
  std::string host = "127.0.0.1";
  int port = 8081;
  int loops = 1;
  bool reuse_port = false;
  int idle_timeout = 60;
  std::string root;
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
  cli.add_option("--idle-timeout", idle_timeout, "close connections idle this long (s, 0 = never)")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  std::string error;
  const App app(AppConfig{.root = root}, &error);
  if (!error.empty()) {
    std::fprintf(stderr, "http: %s\n", error.c_str());
    return 1;
  }

  g_clock.store(static_cast<std::int64_t>(std::time(nullptr)));
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  HttpServer server(app);
  const bool v6 = host.find(':') != std::string::npos;
  const std::string where = "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto result = gnet::run(server, where,
                          {.num_event_loop = loops,
                           .reuse_port = reuse_port,
                           .max_inbound_buffered = max_inbound_buffered(app.limits()),
                           .ticker = true,
                           .idle_timeout = std::chrono::seconds(idle_timeout)});
  if (!result) {
    std::fprintf(stderr, "http: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
