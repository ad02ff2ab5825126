// examples/http/http_app.hpp — routes, responses and per-connection processing (no sockets).
//
// Routes:
//   GET|HEAD /       200 text/plain        "Hello, World!"
//   GET|HEAD /json   200 application/json  {"message":"Hello, World!"}
//   POST     /echo   200, the request body back (Content-Type copied from the request)
//   GET|HEAD /<file> static files under --root (when given), opened beneath the root with no
//                    check-then-open gap (doc_root.hpp): ".." segments and symlinks leading
//                    outside the root refused with 403, dot-files (any segment starting with
//                    '.') 404 unless serve_dotfiles, anything but a regular file or directory
//                    (FIFO, device, socket) 404 without being opened; a directory serves its
//                    index.html (301 to add the trailing slash first). Any size: the body is
//                    not read here but streamed by the connection (FileBody).
//   GET|HEAD /metrics  200 text/plain; version=0.0.4: the engine's metrics in the Prometheus
//                    text format (when AppConfig::metrics is set; it comes before static files)
//   OPTIONS <any>    204 with Allow
// A known path with another method gets 405 + Allow; anything else 404.
//
// Every response carries Server, Date, Content-Type (when it has a body) and Content-Length.
// Protocol errors (400/408/413/417/431/501/505) carry "Connection: close" and end the connection;
// 403/404/405 keep it open.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "doc_root.hpp"
#include "http_parser.hpp"

namespace http_example {

// The Date header value, and the complete responses that change only with it (the hot routes,
// HTTP/1.1 keep-alive). One per loop thread, refreshed when the clock's second changes, so a
// request for / or /json costs one append.
class ResponseCache {
 public:
  explicit ResponseCache(std::string_view date = {}) { set_date(date); }
  // Rebuilds the cached responses when `date` differs from the current one.
  void set_date(std::string_view date);
  std::string_view date() const noexcept { return date_; }
  std::string_view hello() const noexcept { return hello_; }  // GET /
  std::string_view json() const noexcept { return json_; }    // GET /json

 private:
  std::string date_;
  std::string hello_;
  std::string json_;
};

struct AppConfig {
  std::string root;  // static files directory; empty disables static files
  Limits limits;
  bool serve_dotfiles = false;  // serve paths with a segment starting with '.' (never "..")
  Resolution resolution = Resolution::automatic;  // tests force the fallback with this
  // GET /metrics: appends the response body (main.cpp: gnet::append_prometheus of the engine's
  // metrics). Empty: no /metrics route.
  std::function<void(std::string&)> metrics;
  // GET /whoami: answers Session::whoami (main.cpp: the client as Conn::remote_addr() reports
  // it, and the serving process's pid). Off: no /whoami route.
  bool whoami = false;
};

// The Content-Type of the Prometheus text exposition format.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// A static file's body, owed after its response head: the connection streams it (sendfile,
// paced by its outbound cap) before it answers the next request.
struct FileBody {
  UniqueFd file;
  std::uint64_t offset = 0;
  std::uint64_t remaining = 0;
  bool active() const noexcept { return remaining > 0; }
  void clear() noexcept {
    file.reset();
    offset = 0;
    remaining = 0;
  }
};

class App {
 public:
  // Opens config.root (resolved with realpath(3) for messages). On failure (not a directory,
  // missing) `error` says why and the App is not usable.
  explicit App(AppConfig config, std::string* error = nullptr);

  const Limits& limits() const noexcept { return config_.limits; }
  const std::string& root() const noexcept { return root_; }
  const DocRoot& doc_root() const noexcept { return doc_root_; }

  // Appends the response to one complete request; for a static file only its head, and `file`
  // is set to the body the caller must send next. `scratch` is reused for the decoded path.
  // Returns false when the connection must be closed after it (Connection: close, HTTP/1.0
  // without keep-alive).
  // `whoami` is the connection's GET /whoami body (used when AppConfig::whoami is on).
  bool respond(const Request& req, const ResponseCache& cached, std::string& out, FileBody& file,
               std::string& scratch, std::string_view whoami = {}) const;
  bool whoami() const noexcept { return config_.whoami; }

 private:
  void serve_file(const Request& req, bool keep_alive, std::string_view date, std::string& out,
                  FileBody& file, std::string& rel) const;

  AppConfig config_;
  std::string root_;  // realpath of config_.root, no trailing slash; empty when disabled
  DocRoot doc_root_;
};

// One connection's protocol state.
struct Session {
  explicit Session(const Limits& limits) : parser(limits) {}
  RequestParser parser;
  Request request;
  bool continue_sent = false;  // "100 Continue" already sent for the request being received
  FileBody file;               // a static file's body still to send, before anything else
  bool close_after_file = false;  // the request that asked for `file` ends the connection
  bool reads_paused = false;      // reading paused until `file` is sent
  // The server is going away (handed its sockets to a successor): the next response carries
  // "Connection: close" and ends the connection, so the client reconnects, to the successor.
  bool wind_up = false;
  std::string path_scratch;    // decoded static paths (reused: no allocation per request)
  // The request-head deadline (slowloris): when the first byte of the head being received
  // arrived (nullopt while no head is partly received), and the timer that checks it (0: none).
  std::optional<std::chrono::steady_clock::time_point> head_since;
  std::uint64_t head_timer = 0;
  // The GET /whoami body for this connection (AppConfig::whoami), e.g.
  // "client=203.0.113.7:40000 pid=1234\n"; filled in at on_open.
  std::string whoami;
};

struct Progress {
  std::size_t consumed = 0;  // bytes of `in` to discard
  bool close = false;        // close the connection once `out` is written
  bool more = false;         // stopped at out_limit: complete requests may be left in `in`
  bool head_pending = false; // `in` ends with part of a request head (the deadline applies)
};

// Handles the complete requests at the start of `in` (the connection's unconsumed input),
// appending their responses to `out` — the caller writes them with one write. Stops before the
// next request once `out` holds out_limit bytes or more (`more` is then set), so `out` never
// exceeds out_limit + one response. Stops after a response whose body is a file
// (session.file is then active, and session.close_after_file says whether the connection ends
// after it): the caller writes `out`, sends the file, then calls again for the rest. A partial
// request at the end is left unconsumed. On a protocol error the error response is appended,
// all input is consumed and close is set.
Progress process(const App& app, Session& session, std::string_view in,
                 const ResponseCache& cached, std::string& out,
                 std::size_t out_limit = static_cast<std::size_t>(-1));

// Appends a complete error response with "Connection: close".
void append_error(int status, std::string_view reason, std::string_view date, std::string& out);

// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (always 29 characters).
std::string http_date(std::time_t t);
std::string_view status_text(int status) noexcept;
std::string_view content_type_for(std::string_view path) noexcept;

}  // namespace http_example
