// Fuzz harness: the HTTP request-head parser and the upgrade validation of examples/websocket
// (ws::parse_request, ws::validate_upgrade).
//
// Input: byte 0 = flags (bit 0: a small head limit, 64 + 16 * byte 1; bit 1: an --allowed-origin
// list), byte 1 = that limit and the seed of the prefix cut, then the bytes a client sent.
// Checked:
//   - the status matches the blank line: complete or bad only once "\r\n\r\n" is within the
//     limit, too_large once the head passes it, incomplete otherwise; consumed is the head
//     with its blank line;
//   - a complete head's fields are well formed (token method and header names, no control
//     characters in the target or values, values trimmed, path = target up to '?');
//   - bytes after the head (a pipelined request, frames) change nothing, and a prefix cut before
//     the blank line is incomplete (or too_large), never a different verdict;
//   - printing a parsed head back and parsing it again gives the same request;
//   - an accepted upgrade has every header RFC 6455 §4.2.1 requires (GET, HTTP/1.1+, Host,
//     Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a valid key), an
//     allowed Origin when a list is given, and the 101 carries the key's accept value; a refusal
//     is 400, 403 or 426 with "Connection: close".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ws_handshake.hpp"

namespace {

bool is_tchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

bool same_request(const ws::HttpRequest& a, const ws::HttpRequest& b) {
  return a.method == b.method && a.target == b.target && a.path == b.path &&
         a.version_minor == b.version_minor && a.headers == b.headers;
}

bool same_result(const ws::ParseResult& a, const ws::ParseResult& b) {
  if (a.status != b.status) return false;
  if (a.status == ws::ParseStatus::complete) return a.consumed == b.consumed && same_request(a.request, b.request);
  if (a.status == ws::ParseStatus::bad) return a.consumed == b.consumed && a.error == b.error;
  return true;
}

void check_fields(const ws::HttpRequest& r) {
  if (!is_token(r.method)) std::abort();
  if (r.target.empty()) std::abort();
  for (char c : r.target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) std::abort();
  }
  if (r.path != r.target.substr(0, r.target.find('?'))) std::abort();
  if (r.version_minor < 0 || r.version_minor > 9) std::abort();
  for (const auto& [name, value] : r.headers) {
    if (!is_token(name)) std::abort();
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7F || c == '\r' || c == '\n') std::abort();
    }
    if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' || value.back() == '\t')) {
      std::abort();
    }
  }
}

std::string print(const ws::HttpRequest& r) {
  std::string out = r.method + " " + r.target + " HTTP/1." + std::to_string(r.version_minor) + "\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  return out + "\r\n";
}

void check_upgrade(const ws::HttpRequest& r, const std::vector<std::string>& allowed) {
  const ws::UpgradeResult u = ws::validate_upgrade(r, allowed);
  if (!u.ok) {
    if (u.status != 400 && u.status != 403 && u.status != 426) std::abort();
    if (u.response.rfind("HTTP/1.1 " + std::to_string(u.status) + " ", 0) != 0) std::abort();
    if (u.response.find("Connection: close\r\n") == std::string::npos || u.error.empty()) std::abort();
    if (u.status == 403 && (allowed.empty() || ws::origin_allowed(r, allowed))) std::abort();
    return;
  }
  if (u.status != 101 || r.method != "GET" || r.version_minor < 1) std::abort();
  if (!r.header("Host") || !r.has_token("Upgrade", "websocket") || !r.has_token("Connection", "upgrade")) std::abort();
  if (r.header("Sec-WebSocket-Version") != std::optional<std::string>("13")) std::abort();
  const auto key = r.header("Sec-WebSocket-Key");
  if (!key || !ws::is_valid_client_key(*key)) std::abort();
  if (!allowed.empty() && !ws::origin_allowed(r, allowed)) std::abort();
  const std::string want = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " + ws::compute_accept_key(*key) + "\r\n\r\n";
  if (u.response != want) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max_head = (data[0] & 1) ? 64 + std::size_t{data[1]} * 16 : ws::kMaxRequestHead;
  std::vector<std::string> allowed;
  if (data[0] & 2) allowed = {"http://example.com", "null"};
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  const ws::ParseResult r = ws::parse_request(in, max_head);
  const std::size_t blank = in.find("\r\n\r\n");
  const bool head_in = blank != std::string_view::npos && blank + 4 <= max_head;
  switch (r.status) {
    case ws::ParseStatus::complete:
    case ws::ParseStatus::bad:
      if (!head_in || r.consumed != blank + 4) std::abort();
      break;
    case ws::ParseStatus::too_large:
      if (head_in || (blank == std::string_view::npos && in.size() <= max_head)) std::abort();
      break;
    case ws::ParseStatus::incomplete:
      if (blank != std::string_view::npos || in.size() > max_head) std::abort();
      break;
  }
  if (r.status == ws::ParseStatus::bad && r.error.empty()) std::abort();

  // A cut before the blank line is still waiting; bytes after the head change nothing.
  const std::size_t cut = in.empty() ? 0 : data[1] % (in.size() + 1);
  const ws::ParseResult prefix = ws::parse_request(in.substr(0, cut), max_head);
  if (blank == std::string_view::npos || cut < blank + 4) {
    if (prefix.status != ws::ParseStatus::incomplete && prefix.status != ws::ParseStatus::too_large) std::abort();
  } else if (!same_result(prefix, r)) {
    std::abort();
  }

  if (r.status != ws::ParseStatus::complete) return 0;
  check_fields(r.request);
  const std::string printed = print(r.request);
  const ws::ParseResult again = ws::parse_request(printed, printed.size());
  if (again.status != ws::ParseStatus::complete || again.consumed != printed.size() ||
      !same_request(again.request, r.request)) {
    std::abort();
  }
  (void)r.request.keep_alive();
  check_upgrade(r.request, allowed);
  return 0;
}
