// ws_handshake.hpp — the HTTP/1.1 side of the server: parse a request head, validate a WebSocket
// upgrade (RFC 6455 §4.2), compute Sec-WebSocket-Accept with OpenSSL, and build responses.
//
// Only what this example needs: GET requests without bodies. Requests with a body (or any
// Transfer-Encoding) are answered 400 and the connection closed, since their framing is not
// followed here.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ws {

inline constexpr std::size_t kMaxRequestHead = 8192;  // request line + headers; beyond → 431

struct HttpRequest {
  std::string method;
  std::string target;  // as sent, e.g. "/ws?room=1"
  std::string path;    // target without the query string
  int version_minor = 1;  // HTTP/1.<minor>
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent, values trimmed

  // The value of a header (case-insensitive name). Repeated headers are joined with ", ", as
  // RFC 9110 §5.3 allows for list-valued fields.
  std::optional<std::string> header(std::string_view name) const;
  // Whether the comma-separated header contains token (case-insensitive), e.g.
  // has_token("Connection", "upgrade") for "Connection: keep-alive, Upgrade".
  bool has_token(std::string_view name, std::string_view token) const;
  // HTTP/1.1 without "Connection: close" (HTTP/1.0 is always closed after the response).
  bool keep_alive() const;
};

enum class ParseStatus {
  complete,    // request holds the head; consumed = its length including the blank line
  incomplete,  // no blank line yet and under kMaxRequestHead: wait for more bytes
  bad,         // malformed: answer 400 and close
  too_large,   // no blank line within kMaxRequestHead bytes: answer 431 and close
};

struct ParseResult {
  ParseStatus status = ParseStatus::incomplete;
  std::size_t consumed = 0;
  HttpRequest request;
  std::string error;  // for bad: what was wrong
};

ParseResult parse_request(std::string_view data, std::size_t max_head = kMaxRequestHead);

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), via OpenSSL.
std::string compute_accept_key(std::string_view key);

// A Sec-WebSocket-Key must be the base64 encoding of 16 bytes: 22 characters and "==".
bool is_valid_client_key(std::string_view key);

struct UpgradeResult {
  bool ok = false;
  int status = 0;         // 101 when ok, else 400 / 403 / 426
  std::string response;   // the full HTTP response to write
  std::string error;      // why not, when !ok
};

// Validates a WebSocket opening handshake (the request's path is the caller's business):
// GET, HTTP/1.1 or later, Host, "Upgrade: websocket", "Connection: upgrade",
// Sec-WebSocket-Key, "Sec-WebSocket-Version: 13". A request without "Upgrade: websocket" or
// with another version gets 426 (with "Sec-WebSocket-Version: 13" for the latter, RFC 6455
// §4.2.2); the other failures 400. No subprotocol or extension is selected.
//
// allowed_origins, when not empty, guards against cross-site WebSocket hijacking: a browser
// opens a WebSocket to any server a page names, with that server's cookies, and the handshake is
// not subject to the same-origin policy; the only sign of the page's site is the Origin header
// the browser adds (RFC 6455 §10.2). An otherwise valid upgrade whose Origin is not in the list
// (or that has none, or more than one) gets 403. Empty list: Origin is not looked at.
UpgradeResult validate_upgrade(const HttpRequest& request,
                               std::span<const std::string> allowed_origins = {});

// Whether request carries exactly one Origin header equal to an entry of allowed (ASCII
// case-insensitive: RFC 6454 serializes scheme and host in lower case, a browser sends them so).
bool origin_allowed(const HttpRequest& request, std::span<const std::string> allowed);

// Whether text can be an --allowed-origin entry: "null", or scheme "://" host [":" port] with
// no path (a trailing "/" would never match what browsers send). Returns the problem, or empty.
std::string origin_entry_problem(std::string_view text);

// A complete HTTP/1.1 response with Content-Length. keep_alive=false adds "Connection: close".
// extra_headers are "Name: value\r\n" lines.
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, std::string_view extra_headers = {});

const char* status_reason(int status) noexcept;

}  // namespace ws
