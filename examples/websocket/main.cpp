// websocket — RFC 6455 echo server and broadcast chat on gnet-cpp.
//
//   build/examples/websocket --port 8080                 # chat: open http://127.0.0.1:8080/
//   build/examples/websocket --port 9001 --mode echo     # every message comes back to its sender
//   build/examples/websocket --port 8443 --tls-cert server.crt --tls-key server.key
//                                         # the same over TLS: https://HOST:8443/ and wss://HOST:8443/ws
//
// One handler serves both plain HTTP (the chat page at "/", 404 elsewhere) and the WebSocket
// endpoint "/ws". Each connection carries a Session context: it starts in HTTP state, switches
// to WebSocket state after a valid upgrade, and to closing state once the server has sent a close
// frame of its own (then it reads and drops input until the client's close frame arrives, so the
// client gets to read our close frame instead of a TCP reset).
//
// TLS (--tls-cert/--tls-key): the listener is tls://, gnet runs the handshake before on_open and
// the handler sees plaintext, so nothing below changes; the page, loaded over https, connects
// with wss:// (it builds its URL from location.protocol).
//
// Broadcast across loops: connections live on different loop threads, and a Conn& may only be
// touched on its own loop. BroadcastRegistry (broadcast_registry.hpp) posts each message to every
// member's loop, sharing one copy of the frame, and disconnects with 1008 a member whose output
// backlog passes --max-member-backlog (it does not read: its queue would grow without bound).
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broadcast_registry.hpp"
#include "chat_page.hpp"
#include "memory_return.hpp"
#include "ws_codec.hpp"
#include "ws_handshake.hpp"

namespace {

using namespace std::chrono_literals;

// How long the server waits for the client's close frame after sending its own.
constexpr auto kCloseTimeout = 3s;

// Default --handshake-timeout: a connection must complete a request head within this long of
// opening (or of its previous request), or it is closed. Bytes trickled meanwhile do not extend it,
// so a client cannot hold a connection (and its partial head) by sending one byte now and then.
constexpr double kDefaultHandshakeTimeoutSeconds = 10.0;

// Replies of one on_traffic are gathered and written together; past this many bytes they are
// written at once, so that Conn::outbound_full() accounts for them (see has_room()).
constexpr std::size_t kReplyBatch = 64 * 1024;

// Default --max-member-backlog: the output a broadcast member may have waiting (posted to its
// loop and queued by the library) before it is disconnected with 1008. Four maximum-size
// messages at the default --max-message; the kernel's socket buffers hold more on top of it.
constexpr std::size_t kDefaultMaxMemberBacklog = 4u << 20;

// Once members that left have freed this much queued output, the next tick hands the free
// memory back to the kernel (see memory_return.hpp: RSS would otherwise stay at the peak after a
// crowd of non-readers leaves).
constexpr std::size_t kTrimAfterReleased = 1u << 20;

enum class Mode { echo, broadcast };

struct Session {
  enum class State { http, websocket, closing };
  explicit Session(std::uint64_t id, std::size_t max_message) : id(id), rx(max_message) {}
  State state = State::http;
  std::uint64_t id = 0;
  bool upgraded = false;
  bool farewell_posted = false;  // our close frame went out via the registry (async)
  ws::Receiver rx;
  std::shared_ptr<BroadcastRegistry::Member> member;  // broadcast mode, once upgraded
  gnet::TimerId head_deadline = 0;  // HTTP state: closes the connection unless a head completes
};

class Server final : public gnet::EventHandler {
 public:
  Server(Mode mode, std::size_t max_message, std::size_t max_member_backlog,
         std::chrono::milliseconds handshake_timeout, std::vector<std::string> allowed_origins,
         std::size_t max_inbound, bool tls)
      : tls_(tls),
        mode_(mode),
        max_message_(max_message),
        handshake_timeout_(handshake_timeout),
        allowed_origins_(std::move(allowed_origins)),
        max_inbound_(max_inbound),
        registry_(max_member_backlog) {}

  gnet::Action on_boot(gnet::Engine& engine) override {
    engine_ = &engine;
    auto addrs = engine.listen_addresses();
    std::string where = addrs.empty() ? "?" : addrs.front().to_string();
    std::printf("websocket: listening on %s://%s/ (%s://%s/ws)\n", tls_ ? "https" : "http", where.c_str(),
                tls_ ? "wss" : "ws", where.c_str());
    std::printf("websocket: mode %s, %d loop(s), max message %zu bytes, max member backlog %zu bytes, "
                "max unconsumed input %zu bytes\n",
                mode_ == Mode::echo ? "echo" : "broadcast", engine.num_loops(), max_message_,
                registry_.max_backlog(), max_inbound_);
    if (allowed_origins_.empty()) {
      std::printf("websocket: Origin not checked: any web page may connect (see --allowed-origin)\n");
    } else {
      std::string list;
      for (const std::string& o : allowed_origins_) list += (list.empty() ? "" : " ") + o;
      std::printf("websocket: upgrades only from Origin: %s\n", list.c_str());
    }
    std::fflush(stdout);
    return gnet::Action::none;
  }

  void on_shutdown(gnet::Engine&) override {
    std::printf("websocket: stopped; %llu member(s) disconnected for an output backlog over %zu bytes\n",
                static_cast<unsigned long long>(registry_.evictions()), registry_.max_backlog());
    std::fflush(stdout);
  }

  gnet::TickResult on_tick() override {
    std::fprintf(stderr, "websocket: %zu connection(s), %zu websocket client(s), %llu evicted\n",
                 engine_ ? engine_->count_connections() : 0, clients_.load(),
                 static_cast<unsigned long long>(registry_.evictions()));
    if (registry_.take_released() >= kTrimAfterReleased) ws::return_free_memory();
    return {1s};
  }

  gnet::Action on_open(gnet::Conn& conn) override {
    conn.set_context(Session(next_id_.fetch_add(1), max_message_));
    arm_head_deadline(conn, *conn.context<Session>());
    return gnet::Action::none;
  }

  gnet::Action on_close(gnet::Conn& conn, std::error_code error) override {
    if (error && error.category() == gnet::tls_category()) {  // a handshake refused, a bad record
      std::fprintf(stderr, "websocket: TLS with %s failed: %s\n", conn.remote_addr().to_string().c_str(),
                   error.message().c_str());
    }
    if (error == gnet::Errc::inbound_limit) {
      std::fprintf(stderr, "websocket: closed %s: it left more unconsumed input than allowed\n",
                   conn.remote_addr().to_string().c_str());
    }
    Session* s = conn.context<Session>();
    if (s != nullptr) cancel_head_deadline(conn, *s);
    if (s != nullptr && s->upgraded) {
      if (s->member) registry_.closed(*s->member);
      clients_.fetch_sub(1);
    }
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& conn) override {
    Session* s = conn.context<Session>();
    if (s == nullptr) return gnet::Action::close;
    const std::string_view in = conn.peek();
    std::string out;  // replies not written yet: written in batches, and once at the end
    std::size_t used = 0;
    bool close_now = false;

    if (s->state == Session::State::http) used = serve_http(conn, *s, in, out, close_now);
    if (!close_now && s->state != Session::State::http) {
      used += serve_websocket(conn, *s, in.substr(used), out, close_now);
    }

    conn.discard(close_now ? in.size() : used);
    if (!out.empty()) conn.write(out);
    if (close_now) conn.close();
    return gnet::Action::none;
  }

 private:
  // Whether more replies may be produced now. Pending replies are written once they reach
  // kReplyBatch (so outbound_full() sees them); past the library's high-water mark, no.
  static bool has_room(gnet::Conn& conn, std::string& out) {
    if (out.size() >= kReplyBatch) {
      conn.write(out);
      out.clear();
    }
    return !conn.outbound_full();
  }

  // (Re)starts the clock for the next request head: at open and after each complete request.
  void arm_head_deadline(gnet::Conn& conn, Session& s) {
    cancel_head_deadline(conn, s);
    gnet::Loop& loop = conn.loop();
    s.head_deadline = loop.run_after(handshake_timeout_, [&loop, h = conn.handle()] {
      gnet::Conn* c = loop.lookup(h);
      Session* session = c != nullptr ? c->context<Session>() : nullptr;
      if (session == nullptr || session->state != Session::State::http) return;
      session->head_deadline = 0;
      // A partial head gets 408 (a client that just sent nothing more on a kept-alive
      // connection gets no response, so it cannot mistake one for the answer to a request that
      // crossed it).
      const bool partial = c->inbound_buffered() > 0;
      std::fprintf(stderr, "websocket: closing %s: no complete request head within the handshake timeout\n",
                   c->remote_addr().to_string().c_str());
      if (partial) {
        c->write(ws::http_response(408, "text/plain; charset=utf-8", "request head not completed in time\n", false));
      }
      c->close();
    });
  }

  void cancel_head_deadline(gnet::Conn& conn, Session& s) {
    if (s.head_deadline != 0) conn.loop().cancel(s.head_deadline);
    s.head_deadline = 0;
  }

  // Handles HTTP requests at the start of in (keep-alive: possibly several). Returns the bytes
  // consumed; switches s to websocket state after an upgrade (the rest of in is WebSocket data).
  std::size_t serve_http(gnet::Conn& conn, Session& s, std::string_view in, std::string& out,
                         bool& close_now) {
    std::size_t used = 0;
    // Pipelined requests are answered only while the outbound queue has room: one read of
    // 27-byte "GET /" requests would otherwise queue 2 400 chat pages (6 MB) at once. The
    // requests left unconsumed are handed back by gnet once the queue drains.
    while (used < in.size() && !close_now && has_room(conn, out)) {
      ws::ParseResult p = ws::parse_request(in.substr(used));
      if (p.status == ws::ParseStatus::incomplete) break;
      if (p.status == ws::ParseStatus::too_large) {
        out += ws::http_response(431, "text/plain; charset=utf-8", "request head too large\n", false);
        close_now = true;
        break;
      }
      if (p.status == ws::ParseStatus::bad) {
        out += ws::http_response(400, "text/plain; charset=utf-8", p.error + "\n", false);
        close_now = true;
        break;
      }
      used += p.consumed;
      const ws::HttpRequest& req = p.request;
      if (req.header("Transfer-Encoding") ||
          (req.header("Content-Length") && *req.header("Content-Length") != "0")) {
        out += ws::http_response(400, "text/plain; charset=utf-8", "request bodies are not accepted\n", false);
        close_now = true;
        break;
      }
      if (req.path == "/ws") {
        ws::UpgradeResult up = ws::validate_upgrade(req, allowed_origins_);
        out += up.response;
        if (!up.ok) {
          close_now = true;
          break;
        }
        // Register before the 101 leaves, so a client that saw its handshake complete is
        // already a broadcast recipient.
        s.state = Session::State::websocket;
        s.upgraded = true;
        cancel_head_deadline(conn, s);
        clients_.fetch_add(1);
        if (mode_ == Mode::broadcast) s.member = registry_.add(s.id, conn);
        break;
      }
      const bool keep = req.keep_alive();
      if (req.path == "/" || req.path == "/index.html") {
        if (req.method == "GET") {
          out += ws::http_response(200, "text/html; charset=utf-8", ws::kChatPage, keep,
                                   "Cache-Control: no-cache\r\n");
        } else {
          out += ws::http_response(405, "text/plain; charset=utf-8", "only GET is served\n", keep,
                                   "Allow: GET\r\n");
        }
      } else {
        out += ws::http_response(404, "text/plain; charset=utf-8", "not found\n", keep);
      }
      if (!keep) {
        close_now = true;
      } else {
        arm_head_deadline(conn, s);  // the next request gets a full timeout of its own
      }
    }
    return used;
  }

  // Handles WebSocket frames at the start of in. Returns the bytes consumed.
  std::size_t serve_websocket(gnet::Conn& conn, Session& s, std::string_view in, std::string& out,
                              bool& close_now) {
    std::vector<ws::Event> events;
    const std::size_t used = s.rx.feed(in, events);
    for (ws::Event& e : events) {
      switch (e.type) {
        case ws::Event::Type::message:
          if (s.state != Session::State::websocket) break;
          if (mode_ == Mode::echo) {
            ws::append_frame(out, e.opcode, e.payload);
          } else {
            registry_.broadcast(ws::build_frame(e.opcode, e.payload));
          }
          break;
        case ws::Event::Type::ping:
          if (s.state == Session::State::websocket) ws::append_frame(out, ws::Opcode::pong, e.payload);
          break;
        case ws::Event::Type::pong:
          break;
        case ws::Event::Type::close:
          if (s.state == Session::State::websocket) {
            // The client started the closing handshake: echo its status code, then close TCP
            // (RFC 6455 §7.1.1: the server closes the connection first).
            if (s.member) registry_.remove(*s.member);
            ws::append_close_frame(out, e.code == ws::close_code::no_status ? 0 : e.code);
            close_now = true;
          } else if (s.farewell_posted) {
            // The client answered our close, which is still queued behind broadcasts: close
            // after it (async_writes from one thread keep their order).
            conn.handle().async_write({}, [h = conn.handle()](std::error_code) { h.close(); });
          } else {
            close_now = true;
          }
          return in.size();
        case ws::Event::Type::fail: {
          std::fprintf(stderr, "websocket: closing %s with %u: %s\n", conn.remote_addr().to_string().c_str(),
                       static_cast<unsigned>(e.code), e.reason.c_str());
          s.state = Session::State::closing;
          std::string farewell = ws::build_close_frame(e.code, e.reason);
          if (s.member && registry_.remove(*s.member, farewell)) {
            s.farewell_posted = true;
          } else {
            out += farewell;
          }
          // Give the client kCloseTimeout to answer with its close frame, then cut it off.
          conn.loop().run_after(kCloseTimeout, [h = conn.handle()] { h.close(); });
          break;
        }
      }
    }
    return used;
  }

  const bool tls_;  // listening on tls:// (https, wss)
  const Mode mode_;
  const std::size_t max_message_;
  const std::chrono::milliseconds handshake_timeout_;
  const std::vector<std::string> allowed_origins_;  // empty: Origin not checked
  const std::size_t max_inbound_;  // Options::max_inbound_buffered, for the startup line
  gnet::Engine* engine_ = nullptr;
  BroadcastRegistry registry_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::size_t> clients_{0};
};

// Options::max_inbound_buffered from the protocol's limits: the most a connection leaves
// unconsumed is a partial request head (under kMaxRequestHead, or 431), or one partial frame (a
// frame is rejected from its header when over max_message); two reads on top are what may arrive
// with them. While replies to pipelined requests wait for the outbound queue to drain, requests
// that keep arriving pile up: past the bound gnet closes the connection (Errc::inbound_limit),
// which only a client that pipelines far ahead of its reading reaches.
std::size_t inbound_bound(std::size_t max_message, std::size_t read_buffer_cap) {
  return ws::kMaxRequestHead + max_message + ws::kMaxHeaderSize + 2 * read_buffer_cap;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnet-cpp WebSocket server: echo, or a broadcast chat with its page at /"};
  std::string host = "127.0.0.1";
  int port = 8080;
  int loops = 0;
  std::string mode_name = "broadcast";
  std::size_t max_message = 1 << 20;
  std::size_t max_member_backlog = kDefaultMaxMemberBacklog;
  double handshake_timeout = kDefaultHandshakeTimeoutSeconds;
  std::vector<std::string> allowed_origins;
  std::string tls_cert, tls_key;
  app.add_option("--host", host, "address to listen on (IPv4, IPv6 or name)")->capture_default_str();
  app.add_option("--port", port, "TCP port (0: any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
  app.add_option("--loops", loops, "event loops (default: one per core)")->check(CLI::Range(1, 1024));
  app.add_option("--mode", mode_name, "echo: back to the sender; broadcast: to every client")
      ->check(CLI::IsMember({"echo", "broadcast"}))
      ->capture_default_str();
  app.add_option("--max-message", max_message, "largest message accepted, in bytes (beyond: close 1009)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--handshake-timeout", handshake_timeout,
                 "seconds a connection has to complete a request head (the upgrade included), from "
                 "when it opened or its previous request completed; trickled bytes do not extend it")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--allowed-origin", allowed_origins,
                 "accept upgrades only with this Origin header, e.g. https://chat.example.com "
                 "(repeatable; others get 403). Without it any web page may connect")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check([](const std::string& origin) { return ws::origin_entry_problem(origin); });
  auto* backlog_flag =
      app.add_option("--max-member-backlog", max_member_backlog,
                     "broadcast: output a member may have waiting, in bytes, before it is "
                     "disconnected with 1008 (at least --max-message + 14)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40))
          ->capture_default_str();
  app.add_option("--tls-cert", tls_cert,
                 "TLS: certificate chain (PEM, leaf first); with --tls-key, serve https:// and wss://");
  app.add_option("--tls-key", tls_key, "TLS: the certificate's private key (PEM)");
  CLI11_PARSE(app, argc, argv);
  if (tls_cert.empty() != tls_key.empty()) {
    std::fprintf(stderr, "websocket: --tls-cert and --tls-key go together\n");
    return 2;
  }
  const bool tls = !tls_cert.empty();
  // A member must be able to hold one message of the largest size.
  const std::size_t min_backlog = max_message + ws::kMaxHeaderSize;
  if (max_member_backlog < min_backlog) {
    if (backlog_flag->count() > 0) {
      std::fprintf(stderr, "websocket: --max-member-backlog %zu cannot hold one message: at least %zu\n",
                   max_member_backlog, min_backlog);
      return 2;
    }
    max_member_backlog = min_backlog;  // the default follows a large --max-message
  }

  const Mode mode = mode_name == "echo" ? Mode::echo : Mode::broadcast;
  const auto head_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(handshake_timeout * 1000.0));
  gnet::Options options;
  options.multicore = loops == 0;
  options.num_event_loop = loops;
  options.stop_signals = {SIGINT, SIGTERM};  // graceful stop; the engine installs the handler
  options.ticker = true;
  options.max_inbound_buffered = inbound_bound(max_message, options.read_buffer_cap);
  if (tls) options.tls.certificate = {tls_cert, tls_key};
  Server server(mode, max_message, max_member_backlog, head_timeout, std::move(allowed_origins),
                options.max_inbound_buffered, tls);
  const bool v6 = host.find(':') != std::string::npos;
  const std::string address =
      (tls ? "tls://" : "tcp://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);

  auto result = gnet::run(server, address, options);
  if (!result) {
    std::fprintf(stderr, "websocket: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
