// examples/http/http_parser.hpp — an incremental HTTP/1.1 request parser (no sockets).
//
// The parser works on "everything the connection has received and not yet consumed", which is
// exactly what gnet::Conn::peek() returns: call parse() with that view; on `incomplete` consume
// nothing and call again with the same bytes followed by more; on `complete` consume
// `consumed` bytes (and call again for a pipelined next request); on `error` answer with
// `status` and close the connection (the byte stream cannot be resynchronised).
//
// Cost: a head that arrives whole (the usual case, and every request of a pipeline) is parsed
// and validated in one pass — the request-target and header values are scanned 16 bytes at a
// time (http_scan.hpp), names through a table — with no allocation (the Request's header
// vector keeps its capacity). A head that arrives in pieces is only searched for its blank line
// in the new bytes until that line is in, then parsed once; a Content-Length body is only
// counted, and a chunked body is decoded incrementally. So a request trickling in one byte at
// a time costs O(size) overall.
//
// A malformed head is reported once its blank line has arrived (or max_head_bytes without
// one: 431), never earlier, so the verdict depends on the bytes alone and not on how they were
// split into reads (fuzz/http_request.cpp checks exactly that).
//
// Accepted: origin-form ("/path?query"), absolute-form ("http://host/path") and "*" targets;
// HTTP/1.0 and HTTP/1.1; CRLF or bare LF line ends; empty lines before a request line.
// Content-Length bodies and chunked bodies (Transfer-Encoding: chunked, extensions and trailers
// ignored) are supported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace http_example {

// Every limit bounds bytes the connection holds unconsumed while a request is incomplete, so
// one request never makes the server buffer more than max_request_bytes() of its input.
struct Limits {
  // Request line + header lines + the blank line.
  std::size_t max_head_bytes = 8 * 1024;  // beyond: 431
  std::size_t max_headers = 64;           // beyond: 431
  std::size_t max_body_bytes = 1024 * 1024;  // decoded body; beyond: 413
  // The body as sent: a chunked body's size lines, extensions, CRLFs and trailer section count,
  // not only its data (a body of tiny chunks behind long extensions would otherwise stay small
  // decoded while its raw bytes pile up in the connection's buffer). Beyond: 413.
  std::size_t max_raw_body_bytes = 2 * 1024 * 1024;
  // One "size[;extensions]" line of a chunked body, CRLF excluded. Beyond: 400.
  std::size_t max_chunk_line = 256;
  // A chunked body's trailer section, its blank line included. Beyond: 431.
  std::size_t max_trailer_bytes = 4 * 1024;
};

// The most input one request can make a connection hold before it is answered or refused:
// its head and its raw body (leading empty lines count against the head limit).
std::size_t max_request_bytes(const Limits& limits) noexcept;

struct Header {
  std::string_view name;
  std::string_view value;  // leading/trailing spaces and tabs removed
};

struct Request {
  std::string_view method;
  std::string_view target;  // as sent
  std::string_view path;    // target without scheme/authority and query; "*" for asterisk-form
  std::string_view query;   // after '?', without it; empty when absent
  int version_minor = 1;    // HTTP/1.<minor>; 0 or 1
  std::vector<Header> headers;
  bool keep_alive = true;       // after this request, per version and Connection
  bool expect_continue = false; // "Expect: 100-continue"
  bool chunked = false;         // the body came chunked
  std::string_view body_view;   // Content-Length body: a view of the input
  std::string body_storage;     // chunked body: decoded here

  std::string_view body() const noexcept {
    return chunked ? std::string_view(body_storage) : body_view;
  }

  // First header with this name (ASCII case-insensitive), or empty.
  std::string_view header(std::string_view name) const noexcept;
};

enum class ParseState { complete, incomplete, error };

struct ParseResult {
  ParseState state = ParseState::incomplete;
  std::size_t consumed = 0;      // complete: length of this request (incl. skipped blank lines)
  int status = 0;                // error: 400, 413, 417, 431, 501 or 505
  std::string_view reason;       // error: short explanation (static string)
  bool expect_continue = false;  // incomplete: head parsed, body awaited, client sent
                                 // "Expect: 100-continue"
};

class RequestParser {
 public:
  explicit RequestParser(Limits limits = {}) : limits_(limits) {}

  // `in` starts at the first unconsumed byte. On `complete`, `req` is filled; its views point
  // into `in` (and into req.body_storage) and are valid while `in` is. The parser resets itself
  // after `complete` and `error`.
  ParseResult parse(std::string_view in, Request& req);

  const Limits& limits() const noexcept { return limits_; }
  void reset() noexcept;
  // True until the current request's head has been parsed (then its body is awaited).
  bool in_head() const noexcept { return head_end_ == 0; }

 private:
  enum class Body : std::uint8_t { none, length, chunked };
  enum class Chunk : std::uint8_t { size_line, data, data_end, trailer };

  ParseResult fail(int status, std::string_view reason);
  ParseResult parse_chunked(std::string_view whole);
  ParseResult head_incomplete_result(std::string_view in, std::size_t start);

  Limits limits_;
  // Head search.
  std::size_t scanned_ = 0;    // 0, or where to resume the search for the head's blank line
  std::size_t head_end_ = 0;   // 0 until the head is parsed: offset just past its blank line
  // What the head said about the body.
  Body body_ = Body::none;
  std::uint64_t content_length_ = 0;
  bool expect_continue_ = false;
  // Chunked decoding progress (offsets into `in`).
  Chunk chunk_ = Chunk::size_line;
  std::size_t pos_ = 0;
  std::uint64_t chunk_left_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string decoded_;
};

// ---- helpers shared with the server and the tests ----

bool iequals(std::string_view a, std::string_view b) noexcept;
// Whether a comma-separated header value holds `token` (case-insensitive), e.g. "close".
bool has_token(std::string_view list, std::string_view token) noexcept;
// Decodes %XX escapes; false on a malformed escape or a decoded NUL.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace http_example
