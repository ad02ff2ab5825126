// ws_handshake.cpp — see ws_handshake.hpp.
#include "ws_handshake.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace ws {

namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char lower(char c) noexcept {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters (method and header names).
bool is_tchar(char c) noexcept {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

}  // namespace

std::optional<std::string> HttpRequest::header(std::string_view name) const {
  std::optional<std::string> value;
  for (const auto& [n, v] : headers) {
    if (!iequals(n, name)) continue;
    if (value) {
      *value += ", ";
      *value += v;
    } else {
      value = v;
    }
  }
  return value;
}

bool HttpRequest::has_token(std::string_view name, std::string_view token) const {
  auto value = header(name);
  if (!value) return false;
  std::string_view rest = *value;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

bool HttpRequest::keep_alive() const {
  if (version_minor < 1) return has_token("Connection", "keep-alive");
  return !has_token("Connection", "close");
}

ParseResult parse_request(std::string_view data, std::size_t max_head) {
  ParseResult r;
  const std::size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    // Until the blank line arrives only the size is checked; syntax errors are found then.
    r.status = data.size() > max_head ? ParseStatus::too_large : ParseStatus::incomplete;
    return r;
  }
  if (end + 4 > max_head) {
    r.status = ParseStatus::too_large;
    return r;
  }
  r.consumed = end + 4;
  auto bad = [&r](std::string why) {
    r.status = ParseStatus::bad;
    r.error = std::move(why);
    return r;
  };

  std::string_view head = data.substr(0, end + 2);  // every line ends with CRLF
  // request line: METHOD SP target SP HTTP/1.x
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad("malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return bad("malformed method");
  if (target.empty() || target.find_first_of(" \t") != std::string_view::npos) return bad("malformed target");
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return bad("control character in target");
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9') {
    return bad("unsupported HTTP version");
  }
  r.request.method = std::string(method);
  r.request.target = std::string(target);
  r.request.path = std::string(target.substr(0, target.find('?')));
  r.request.version_minor = version[7] - '0';

  while (!head.empty()) {
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (line.empty()) return bad("empty header line");
    if (line.front() == ' ' || line.front() == '\t') return bad("obsolete line folding");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return bad("header line without a colon");
    std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return bad("malformed header name");  // also rejects "Name :"
    std::string_view value = trim(line.substr(colon + 1));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7F) return bad("control character in header value");
    }
    r.request.headers.emplace_back(std::string(name), std::string(value));
  }
  r.status = ParseStatus::complete;
  return r;
}

std::string compute_accept_key(std::string_view key) {
  std::string input(key);
  input.append(kWebSocketGuid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &digest_len, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-1) failed");
  }
  // EVP_EncodeBlock writes 4 characters per 3 input bytes (rounded up) plus a NUL.
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> encoded{};
  const int n = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest_len));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(n));
}

bool is_valid_client_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  std::array<unsigned char, 24> decoded{};
  // EVP_DecodeBlock rejects characters outside the base64 alphabet (returns -1); with "==" it
  // yields 18 bytes of which the last two are padding, i.e. 16 bytes of key.
  return EVP_DecodeBlock(decoded.data(), reinterpret_cast<const unsigned char*>(key.data()),
                         static_cast<int>(key.size())) == 18;
}

const char* status_reason(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    default: return "Unknown";
  }
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) + "\r\n";
  if (!content_type.empty()) {
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

bool origin_allowed(const HttpRequest& req, std::span<const std::string> allowed) {
  std::size_t count = 0;
  std::string_view origin;
  for (const auto& [name, value] : req.headers) {
    if (!iequals(name, "Origin")) continue;
    ++count;
    origin = value;
  }
  if (count != 1) return false;
  return std::any_of(allowed.begin(), allowed.end(),
                     [origin](const std::string& entry) { return iequals(entry, origin); });
}

std::string origin_entry_problem(std::string_view text) {
  if (text == "null") return {};
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return "an origin is scheme://host[:port], e.g. https://chat.example.com";
  if (!is_token(text.substr(0, sep))) return "malformed scheme";
  const std::string_view host = text.substr(sep + 3);
  if (host.empty()) return "no host";
  if (host.find('/') != std::string_view::npos) return "an origin has no path (not even a trailing /)";
  for (char c : host) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return "space or control character";
  }
  return {};
}

UpgradeResult validate_upgrade(const HttpRequest& req, std::span<const std::string> allowed_origins) {
  UpgradeResult r;
  auto refuse = [&r](int status, std::string why, std::string_view extra = {}) {
    r.ok = false;
    r.status = status;
    r.error = std::move(why);
    r.response = http_response(status, "text/plain; charset=utf-8", r.error + "\n", false, extra);
    return r;
  };
  if (req.method != "GET") return refuse(400, "WebSocket handshake must use GET");
  if (req.version_minor < 1) return refuse(400, "WebSocket handshake needs HTTP/1.1");
  if (!req.header("Host")) return refuse(400, "missing Host header");
  if (!req.header("Upgrade")) {
    return refuse(426, "this is a WebSocket endpoint: send Upgrade: websocket",
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n");
  }
  if (!req.has_token("Upgrade", "websocket")) return refuse(400, "Upgrade header must name websocket");
  if (!req.has_token("Connection", "upgrade")) return refuse(400, "Connection header must contain upgrade");
  auto version = req.header("Sec-WebSocket-Version");
  if (!version || *version != "13") {
    return refuse(426, "unsupported Sec-WebSocket-Version (13 is supported)",
                  "Sec-WebSocket-Version: 13\r\n");
  }
  auto key = req.header("Sec-WebSocket-Key");
  if (!key) return refuse(400, "missing Sec-WebSocket-Key");
  if (!is_valid_client_key(*key)) return refuse(400, "malformed Sec-WebSocket-Key");
  if (!allowed_origins.empty() && !origin_allowed(req, allowed_origins)) {
    return refuse(403, "Origin not allowed");
  }

  r.ok = true;
  r.status = 101;
  r.response =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      compute_accept_key(*key) + "\r\n\r\n";
  return r;
}

}  // namespace ws
