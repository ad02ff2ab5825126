// examples/http/http_app.cpp — see http_app.hpp.
#include "http_app.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>

namespace http_example {
namespace {

constexpr std::string_view kServer = "gnet";
constexpr std::string_view kHello = "Hello, World!";
constexpr std::string_view kJson = R"({"message":"Hello, World!"})";

void append_number(std::string& out, std::size_t n) {
  char buf[24];
  char* p = buf + sizeof buf;
  do {
    *--p = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  out.append(p, static_cast<std::size_t>(buf + sizeof buf - p));
}

// Status line and the common headers, up to (not including) the blank line.
void append_head(std::string& out, int status, std::string_view date,
                 std::string_view content_type, std::size_t length, bool keep_alive,
                 int version_minor) {
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::size_t>(status));
  out += ' ';
  out += status_text(status);
  out += "\r\nServer: ";
  out += kServer;
  out += "\r\nDate: ";
  out += date;
  if (!content_type.empty()) {
    out += "\r\nContent-Type: ";
    out += content_type;
  }
  out += "\r\nContent-Length: ";
  append_number(out, length);
  if (!keep_alive) {
    out += "\r\nConnection: close";
  } else if (version_minor == 0) {
    out += "\r\nConnection: keep-alive";
  }
  out += "\r\n";
}

// Extra header lines, as pieces appended in order (each line ends with its own CRLF): built in
// place, so that no response allocates.
using HeaderParts = std::initializer_list<std::string_view>;

// A complete response with a small body.
void append_simple(std::string& out, const Request& req, int status, std::string_view date,
                   std::string_view content_type, std::string_view body, bool keep_alive,
                   HeaderParts extra_headers = {}) {
  append_head(out, status, date, content_type, body.size(), keep_alive, req.version_minor);
  for (std::string_view part : extra_headers) out += part;
  out += "\r\n";
  if (req.method != "HEAD") out += body;
}

// "404 Not Found\n" and the like, formatted into `buf`.
std::string_view status_page(int status, std::string_view detail, char (&buf)[160]) {
  std::size_t n = 0;
  const auto put = [&](std::string_view s) {
    const std::size_t take = std::min(s.size(), sizeof buf - 1 - n);
    std::memcpy(buf + n, s.data(), take);
    n += take;
  };
  const char digits[3] = {static_cast<char>('0' + status / 100 % 10),
                          static_cast<char>('0' + status / 10 % 10),
                          static_cast<char>('0' + status % 10)};
  put(std::string_view(digits, 3));
  put(" ");
  put(status_text(status));
  if (!detail.empty()) {
    put(": ");
    put(detail);
  }
  put("\n");
  return std::string_view(buf, n);
}

void append_status_page(std::string& out, const Request& req, int status, std::string_view date,
                        bool keep_alive, HeaderParts extra_headers = {}) {
  char buf[160];
  append_simple(out, req, status, date, "text/plain; charset=utf-8", status_page(status, {}, buf),
                keep_alive, extra_headers);
}

void append_method_not_allowed(std::string& out, const Request& req, std::string_view date,
                               bool keep_alive, std::string_view allow) {
  if (req.method == "OPTIONS") {
    append_head(out, 204, date, {}, 0, keep_alive, req.version_minor);
    out += "Allow: ";
    out += allow;
    out += "\r\n\r\n";
    return;
  }
  append_status_page(out, req, 405, date, keep_alive, {"Allow: ", allow, "\r\n"});
}

}  // namespace

std::string_view status_text(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string_view content_type_for(std::string_view path) noexcept {
  const auto dot = path.rfind('.');
  const auto slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  const std::string_view ext = path.substr(dot + 1);
  struct Entry {
    std::string_view ext, type;
  };
  static constexpr Entry kTypes[] = {
      {"html", "text/html; charset=utf-8"},  {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},    {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
      {"txt", "text/plain; charset=utf-8"},  {"md", "text/markdown; charset=utf-8"},
      {"xml", "application/xml"},            {"svg", "image/svg+xml"},
      {"png", "image/png"},                  {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},                {"gif", "image/gif"},
      {"webp", "image/webp"},                {"ico", "image/x-icon"},
      {"wasm", "application/wasm"},          {"pdf", "application/pdf"},
      {"woff2", "font/woff2"},               {"woff", "font/woff"},
  };
  for (const auto& e : kTypes) {
    if (iequals(e.ext, ext)) return e.type;
  }
  return "application/octet-stream";
}

std::string http_date(std::time_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                              kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                              tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

void append_error(int status, std::string_view reason, std::string_view date, std::string& out) {
  char buf[160];
  const std::string_view body = status_page(status, reason, buf);
  append_head(out, status, date, "text/plain; charset=utf-8", body.size(), false, 1);
  out += "\r\n";
  out += body;
}

App::App(AppConfig config, std::string* error) : config_(std::move(config)) {
  if (config_.root.empty()) return;
  char resolved[PATH_MAX];
  if (::realpath(config_.root.c_str(), resolved) == nullptr) {
    if (error) *error = "--root " + config_.root + ": " + std::strerror(errno);
    return;
  }
  struct stat st {};
  if (::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
    if (error) *error = "--root " + config_.root + ": not a directory";
    return;
  }
  if (std::string_view(resolved) == "/") {
    if (error) *error = "--root /: refusing to serve the whole filesystem";
    return;
  }
  std::string open_error;
  DocRoot doc_root(resolved, config_.resolution, &open_error);
  if (!doc_root.is_open()) {
    if (error) *error = "--root " + open_error;
    return;
  }
  root_ = resolved;
  doc_root_ = std::move(doc_root);
  if (error) error->clear();
}

void ResponseCache::set_date(std::string_view date) {
  if (date == date_ && !hello_.empty()) return;
  date_.assign(date);
  Request get;
  get.method = "GET";
  get.version_minor = 1;
  hello_.clear();
  append_simple(hello_, get, 200, date_, "text/plain; charset=utf-8", kHello, true);
  json_.clear();
  append_simple(json_, get, 200, date_, "application/json", kJson, true);
}

bool App::respond(const Request& req, const ResponseCache& cached, std::string& out, FileBody& file,
                  std::string& scratch, std::string_view whoami) const {
  const bool keep = req.keep_alive;
  const std::string_view m = req.method;
  // The hot path: GET / and GET /json on a kept-alive HTTP/1.1 connection, one append each.
  if (m == "GET" && keep && req.version_minor == 1) {
    if (req.path == "/") {
      out += cached.hello();
      return true;
    }
    if (req.path == "/json") {
      out += cached.json();
      return true;
    }
  }
  const std::string_view date = cached.date();
  const bool get_or_head = m == "GET" || m == "HEAD";

  if (req.path == "*") {
    if (m == "OPTIONS") {
      append_method_not_allowed(out, req, date, keep, "GET, HEAD, POST, OPTIONS");
    } else {
      append_status_page(out, req, 400, date, keep);
    }
    return keep;
  }
  if (req.path == "/") {
    if (get_or_head) {
      append_simple(out, req, 200, date, "text/plain; charset=utf-8", kHello, keep);
    } else {
      append_method_not_allowed(out, req, date, keep, "GET, HEAD, OPTIONS");
    }
    return keep;
  }
  if (req.path == "/json") {
    if (get_or_head) {
      append_simple(out, req, 200, date, "application/json", kJson, keep);
    } else {
      append_method_not_allowed(out, req, date, keep, "GET, HEAD, OPTIONS");
    }
    return keep;
  }
  if (req.path == "/echo") {
    if (m == "POST") {
      std::string_view type = req.header("content-type");
      if (type.empty()) type = "application/octet-stream";
      append_simple(out, req, 200, date, type, req.body(), keep);
    } else {
      append_method_not_allowed(out, req, date, keep, "POST, OPTIONS");
    }
    return keep;
  }
  if (req.path == "/whoami" && config_.whoami) {
    if (get_or_head) {
      append_simple(out, req, 200, date, "text/plain; charset=utf-8", whoami, keep);
    } else {
      append_method_not_allowed(out, req, date, keep, "GET, HEAD, OPTIONS");
    }
    return keep;
  }
  if (req.path == "/metrics" && config_.metrics) {
    if (get_or_head) {
      std::string body;  // a scrape every few seconds: an allocation is fine here
      config_.metrics(body);
      append_simple(out, req, 200, date, kMetricsContentType, body, keep);
    } else {
      append_method_not_allowed(out, req, date, keep, "GET, HEAD, OPTIONS");
    }
    return keep;
  }
  if (root_.empty()) {
    append_status_page(out, req, 404, date, keep);
    return keep;
  }
  if (!get_or_head) {
    append_method_not_allowed(out, req, date, keep, "GET, HEAD, OPTIONS");
    return keep;
  }
  serve_file(req, keep, date, out, file, scratch);
  return keep;
}

void App::serve_file(const Request& req, bool keep, std::string_view date, std::string& out,
                     FileBody& file, std::string& rel) const {
  if (!percent_decode(req.path, rel)) {
    append_status_page(out, req, 400, date, keep);
    return;
  }
  // Segments: ".." is refused outright (403), whatever the resolution would make of it; a
  // dot-file or dot-directory (".git", ".env", ".htpasswd") is not there (404) unless asked.
  // "\" is an ordinary character on Linux.
  for (std::size_t i = 0; i < rel.size();) {
    std::size_t next = rel.find('/', i);
    if (next == std::string::npos) next = rel.size();
    const std::string_view segment = std::string_view(rel).substr(i, next - i);
    if (segment == "..") {
      append_status_page(out, req, 403, date, keep);
      return;
    }
    if (!segment.empty() && segment.front() == '.' && !config_.serve_dotfiles) {
      append_status_page(out, req, 404, date, keep);
      return;
    }
    i = next + 1;
  }
  const bool trailing_slash = !rel.empty() && rel.back() == '/';
  rel.erase(0, rel.find_first_not_of('/'));  // relative to the root

  DocRoot::Found found = doc_root_.find(rel);
  if (found.status == 0 && found.directory) {
    if (!trailing_slash) {
      const std::string_view q = req.query.empty() ? std::string_view{} : std::string_view("?");
      append_status_page(out, req, 301, date, keep,
                         {"Location: ", req.path, "/", q, req.query, "\r\n"});
      return;
    }
    rel += "index.html";
    found = doc_root_.find(rel);
    if (found.status == 0 && found.directory) found.status = 404;
  }
  if (found.status != 0) {
    append_status_page(out, req, found.status, date, keep);
    return;
  }

  append_head(out, 200, date, content_type_for(rel), found.size, keep, req.version_minor);
  out += "\r\n";
  if (req.method == "HEAD" || found.size == 0) return;
  // The body is not read here: the connection streams it next (sendfile, paced by its cap).
  file.file = std::move(found.file);
  file.offset = 0;
  file.remaining = found.size;
}

Progress process(const App& app, Session& s, std::string_view in, const ResponseCache& cached,
                 std::string& out, std::size_t out_limit) {
  Progress p;
  while (p.consumed < in.size()) {
    if (out.size() >= out_limit) {
      p.more = true;
      break;
    }
    const ParseResult r = s.parser.parse(in.substr(p.consumed), s.request);
    if (r.state == ParseState::incomplete) {
      p.head_pending = s.parser.in_head();
      if (r.expect_continue && !s.continue_sent) {
        out += "HTTP/1.1 100 Continue\r\n\r\n";
        s.continue_sent = true;
      }
      break;
    }
    if (r.state == ParseState::error) {
      append_error(r.status, r.reason, cached.date(), out);
      p.consumed = in.size();
      p.close = true;
      break;
    }
    p.consumed += r.consumed;
    s.continue_sent = false;
    if (s.wind_up) s.request.keep_alive = false;
    const bool keep = app.respond(s.request, cached, out, s.file, s.path_scratch, s.whoami);
    if (s.file.active()) {
      // The file's body goes next: nothing after it until it is sent.
      s.close_after_file = !keep;
      break;
    }
    if (!keep) {
      p.close = true;
      break;
    }
  }
  return p;
}

}  // namespace http_example
