// examples/http/http_parser.cpp — see http_parser.hpp.
#include "http_parser.hpp"

#include <algorithm>
#include <cstring>

#include "http_scan.hpp"

namespace http_example {
namespace {

using scan::is_tchar;

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// Field values: visible characters, spaces, tabs and obs-text; no other control characters.
bool is_field_value(std::string_view s) noexcept {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <std::size_t N>
bool name_is(std::string_view name, const char (&lower)[N]) noexcept {
  return scan::token_is(name.data(), name.size(), lower, N - 1);
}

template <std::size_t N>
bool starts_with(const char* p, const char* end, const char (&literal)[N]) noexcept {
  return static_cast<std::size_t>(end - p) >= N - 1 && std::memcmp(p, literal, N - 1) == 0;
}

// The outcome of one pass over a head.
struct Head {
  enum class State : std::uint8_t { complete, incomplete, error } state = State::incomplete;
  std::size_t end = 0;  // complete: offset just past the blank line
  int status = 0;       // error
  std::string_view reason;
  bool chunked = false;
  bool has_length = false;
  std::uint64_t content_length = 0;
};

Head head_incomplete() { return {}; }

Head head_error(int status, std::string_view reason) {
  Head h;
  h.state = Head::State::error;
  h.status = status;
  h.reason = reason;
  return h;
}

// Splits an absolute- or origin-form target into path and query. False when it is neither.
bool split_target(std::string_view target, Request& req) {
  if (target.size() == 1 && target[0] == '*') {
    req.path = target;
    return true;
  }
  std::string_view path = target;
  if (path.front() != '/') {
    // absolute-form: scheme "://" authority [path-abempty] [? query]
    std::string_view scheme_rest;
    if (path.size() >= 7 && iequals(path.substr(0, 7), "http://")) {
      scheme_rest = path.substr(7);
    } else if (path.size() >= 8 && iequals(path.substr(0, 8), "https://")) {
      scheme_rest = path.substr(8);
    } else {
      return false;
    }
    const auto slash = scheme_rest.find_first_of("/?");
    if (slash == 0) return false;
    if (slash == std::string_view::npos) {
      req.path = "/";
      return true;
    }
    if (scheme_rest[slash] == '?') {
      req.query = scheme_rest.substr(slash + 1);
      req.path = "/";
      return true;
    }
    path = scheme_rest.substr(slash);
  }
  const void* q = std::memchr(path.data(), '?', path.size());
  if (q != nullptr) {
    const auto at = static_cast<std::size_t>(static_cast<const char*>(q) - path.data());
    req.query = path.substr(at + 1);
    path = path.substr(0, at);
  }
  req.path = path;
  return true;
}

// What the header fields said, gathered while they are parsed.
struct Framing {
  int hosts = 0;
  bool close = false;
  bool keep_alive_token = false;
  bool has_te = false;
  int chunked_codings = 0;
  bool other_coding = false;
};

// Why a head is refused; status 0 when it is not.
struct Refusal {
  int status = 0;
  std::string_view reason;
};

// Interprets the fields the parser acts on (Host, Expect, Connection, Content-Length,
// Transfer-Encoding); the others are only stored.
Refusal note_field(std::string_view name, std::string_view value, Request& req, Framing& f,
                   Head& head) {
  switch (name.size()) {
    case 4:
      if (name_is(name, "host")) ++f.hosts;
      break;
    case 6:
      if (name_is(name, "expect")) {
        if (!iequals(value, "100-continue")) return {417, "unsupported expectation"};
        req.expect_continue = req.version_minor >= 1;  // HTTP/1.0 must ignore it
      }
      break;
    case 10:
      if (name_is(name, "connection")) {
        if (has_token(value, "close")) f.close = true;
        if (has_token(value, "keep-alive")) f.keep_alive_token = true;
      }
      break;
    case 14:
      if (name_is(name, "content-length")) {
        if (value.empty()) return {400, "malformed Content-Length"};
        for (char c : value) {
          if (c < '0' || c > '9') return {400, "malformed Content-Length"};
        }
        if (value.size() > 19) return {413, "request body too large"};  // > 2^63
        std::uint64_t n = 0;
        for (char c : value) n = n * 10 + static_cast<std::uint64_t>(c - '0');
        if (head.has_length && n != head.content_length) {
          return {400, "conflicting Content-Length fields"};
        }
        head.has_length = true;
        head.content_length = n;
      }
      break;
    case 17:
      if (name_is(name, "transfer-encoding")) {
        f.has_te = true;
        std::string_view list = value;
        while (!list.empty()) {
          const auto comma = list.find(',');
          const std::string_view coding = trim_ows(list.substr(0, comma));
          list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
          if (coding.empty()) continue;
          if (iequals(coding, "chunked")) {
            ++f.chunked_codings;
          } else {
            f.other_coding = true;
          }
        }
      }
      break;
    default:
      break;
  }
  return {};
}

// One pass over a head: the request line, then header lines up to the blank line, looking at
// in[start, limit) only. Incomplete means the pass reached `limit` before the blank line (so
// no blank line lies below `limit`); complete means it stopped at the first blank line; error
// may come before the blank line has arrived (the caller decides when to report it).
Head parse_head(std::string_view in, std::size_t start, std::size_t limit, const Limits& limits,
                Request& req) {
  req.headers.clear();
  req.body_storage.clear();
  req.body_view = {};
  req.chunked = false;
  req.expect_continue = false;
  req.query = {};

  const char* const base = in.data();
  const char* const end = base + limit;
  const char* p = base + start;

  // ---- request line: method SP request-target SP HTTP-version (CR)LF ----
  const char* const method = p;
  if (starts_with(p, end, "GET ")) {
    p += 3;
  } else {
    while (p < end && is_tchar(*p)) ++p;
    if (p == end) return head_incomplete();
    if (*p != ' ' || p == method) return head_error(400, "malformed method");
  }
  req.method = std::string_view(method, static_cast<std::size_t>(p - method));
  ++p;

  const char* const target = p;
  p = scan::target_end(p, end);
  if (p == end) return head_incomplete();
  if (*p != ' ') return head_error(400, "bad character in target");
  if (p == target) return head_error(400, "empty request target");
  req.target = std::string_view(target, static_cast<std::size_t>(p - target));
  ++p;

  if (starts_with(p, end, "HTTP/1.1\r\n")) {
    req.version_minor = 1;
    p += 10;
  } else {
    const char* const version = p;
    while (p < end && *p != '\r' && *p != '\n') ++p;
    if (p == end) return head_incomplete();
    const std::string_view v(version, static_cast<std::size_t>(p - version));
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9') {
      return head_error(400, "malformed HTTP version");
    }
    if (v[5] != '1') return head_error(505, "only HTTP/1.x is supported");
    req.version_minor = v[7] == '0' ? 0 : 1;  // 1.2+ is answered as 1.1 (RFC 9110 2.5)
    if (*p == '\r') {
      if (p + 1 == end) return head_incomplete();
      if (p[1] != '\n') return head_error(400, "stray CR in request line");
      ++p;
    }
    ++p;
  }
  if (!split_target(req.target, req)) return head_error(400, "request target is not a path");

  // ---- header lines, up to the blank line ----
  Framing framing;
  Head head;
  for (;;) {
    if (p == end) return head_incomplete();
    if (*p == '\n' || *p == '\r') {
      if (*p == '\r') {
        if (p + 1 == end) return head_incomplete();
        if (p[1] != '\n') return head_error(400, "stray CR in header line");
        ++p;
      }
      ++p;
      break;
    }
    const char* const name = p;
    while (p < end && is_tchar(*p)) ++p;
    if (p == end) return head_incomplete();
    if (*p != ':' || p == name) {
      if (p == name && (*p == ' ' || *p == '\t')) {
        return head_error(400, "obsolete header line folding");
      }
      return head_error(400, *p == ':' || *p == '\r' || *p == '\n' ? "header line without colon"
                                                                    : "malformed header name");
    }
    const std::string_view field(name, static_cast<std::size_t>(p - name));
    ++p;
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    const char* const value = p;
    for (;;) {
      p = scan::field_value_end(p, end);
      if (p == end) return head_incomplete();
      if (*p != '\t') break;
      ++p;
    }
    const char* value_end = p;
    if (*p == '\r') {
      if (p + 1 == end) return head_incomplete();
      if (p[1] != '\n') return head_error(400, "stray CR in header line");
      ++p;
    } else if (*p != '\n') {
      return head_error(400, "control character in header value");
    }
    ++p;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) --value_end;
    if (req.headers.size() >= limits.max_headers) return head_error(431, "too many header fields");
    const std::string_view v(value, static_cast<std::size_t>(value_end - value));
    req.headers.push_back({field, v});
    if (field.size() >= 4) {
      const Refusal refusal = note_field(field, v, req, framing, head);
      if (refusal.status != 0) return head_error(refusal.status, refusal.reason);
    }
  }

  if (req.version_minor >= 1 && framing.hosts != 1) {
    return head_error(400, "exactly one Host field required");
  }
  if (framing.hosts > 1) return head_error(400, "more than one Host field");
  if (framing.has_te) {
    if (req.version_minor == 0) return head_error(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (head.has_length) return head_error(400, "both Transfer-Encoding and Content-Length");
    if (framing.other_coding) return head_error(501, "unsupported transfer coding");
    if (framing.chunked_codings != 1) return head_error(400, "malformed Transfer-Encoding");
    head.chunked = true;
  }
  if (head.has_length && head.content_length > limits.max_body_bytes) {
    return head_error(413, "request body too large");
  }
  req.keep_alive = req.version_minor >= 1 ? !framing.close
                                          : (framing.keep_alive_token && !framing.close);
  head.state = Head::State::complete;
  head.end = static_cast<std::size_t>(p - base);
  return head;
}

// Offset just past the first blank line ("\n\n" or "\n\r\n") found from `from` within
// in[0, limit); 0 when there is none.
std::size_t find_blank_line(std::string_view in, std::size_t from, std::size_t limit) noexcept {
  std::size_t i = from;
  while (i < limit) {
    const void* hit = std::memchr(in.data() + i, '\n', limit - i);
    if (hit == nullptr) return 0;
    i = static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
    if (i + 1 < limit && in[i + 1] == '\n') return i + 2;
    if (i + 2 < limit && in[i + 1] == '\r' && in[i + 2] == '\n') return i + 3;
    ++i;
  }
  return 0;
}

}  // namespace

std::size_t max_request_bytes(const Limits& limits) noexcept {
  return limits.max_head_bytes + std::max(limits.max_body_bytes, limits.max_raw_body_bytes);
}

std::string_view Request::header(std::string_view name) const noexcept {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x | 0x20);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y | 0x20);
    if (x != y) return false;
  }
  return true;
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(static_cast<unsigned char>(in[i + 1]));
      const int lo = hex_value(static_cast<unsigned char>(in[i + 2]));
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return false;
    out.push_back(c);
  }
  return true;
}

void RequestParser::reset() noexcept {
  scanned_ = 0;
  head_end_ = 0;
  body_ = Body::none;
  content_length_ = 0;
  expect_continue_ = false;
  chunk_ = Chunk::size_line;
  pos_ = 0;
  chunk_left_ = 0;
  trailer_bytes_ = 0;
  decoded_.clear();
}

ParseResult RequestParser::fail(int status, std::string_view reason) {
  reset();
  ParseResult r;
  r.state = ParseState::error;
  r.status = status;
  r.reason = reason;
  return r;
}

ParseResult RequestParser::parse(std::string_view in, Request& req) {
  // The head must end within max_head_bytes; nothing past that is looked at.
  const std::size_t limit = std::min(in.size(), limits_.max_head_bytes);
  // Leading empty lines are ignored (RFC 9112 2.2); they count as part of this request, and
  // against its head limit (so start <= limit: the fuzzer found a read past the buffer when a
  // run of empty lines was longer than max_head_bytes).
  std::size_t start = 0;
  while (start < limit && (in[start] == '\n' || in[start] == '\r')) {
    if (in[start] == '\n') {
      ++start;
    } else if (start + 1 < limit && in[start + 1] == '\n') {
      start += 2;
    } else {
      break;
    }
  }

  bool head_now = false;
  if (head_end_ == 0) {
    // A head is judged only once its blank line is in: until then it is incomplete, or 431 once
    // max_head_bytes have arrived without one. So the verdict depends on the head's bytes
    // alone, not on how they were split into reads.
    if (scanned_ != 0) {
      // An earlier call found no blank line: look for it in the new bytes only, so that a head
      // trickling in costs one pass over it, not one per arrival.
      const std::size_t from = std::max(start, scanned_);
      if (find_blank_line(in, from, limit) == 0) return head_incomplete_result(in, start);
    }
    const Head head = parse_head(in, start, limit, limits_, req);
    if (head.state == Head::State::incomplete) return head_incomplete_result(in, start);
    if (head.state == Head::State::error) {
      if (find_blank_line(in, start, limit) == 0) return head_incomplete_result(in, start);
      return fail(head.status, head.reason);
    }
    head_end_ = head.end;
    head_now = true;
    expect_continue_ = req.expect_continue;
    if (head.chunked) {
      body_ = Body::chunked;
      pos_ = head.end;
    } else if (head.has_length && head.content_length > 0) {
      body_ = Body::length;
      content_length_ = head.content_length;
    } else {
      body_ = Body::none;
    }
  }

  std::size_t total = 0;
  switch (body_) {
    case Body::none:
      total = head_end_;
      break;
    case Body::length:
      if (in.size() - head_end_ < content_length_) {
        ParseResult r;
        r.expect_continue = expect_continue_;
        return r;
      }
      total = head_end_ + static_cast<std::size_t>(content_length_);
      break;
    case Body::chunked: {
      ParseResult r = parse_chunked(in);
      if (r.state != ParseState::complete) return r;
      total = r.consumed;
      break;
    }
  }

  // Complete. Re-parse the head when it was parsed in an earlier call (the views must point
  // into this call's `in`); it parsed cleanly then, so it does now.
  if (!head_now) (void)parse_head(in, start, head_end_, limits_, req);
  if (body_ == Body::chunked) {
    req.chunked = true;
    req.body_storage.swap(decoded_);
  } else {
    req.body_view = in.substr(head_end_, total - head_end_);
  }
  reset();
  ParseResult r;
  r.state = ParseState::complete;
  r.consumed = total;
  return r;
}

// No blank line below min(in.size(), max_head_bytes): 431 once max_head_bytes have arrived,
// else wait, remembering where to resume the search (a blank line is up to 3 bytes long).
ParseResult RequestParser::head_incomplete_result(std::string_view in, std::size_t start) {
  if (in.size() >= limits_.max_head_bytes) return fail(431, "request header section too large");
  scanned_ = std::max({start, in.size() >= 2 ? in.size() - 2 : std::size_t{0}, std::size_t{1}});
  return {};
}

// The chunked body is decoded from a window of `in` that ends max_raw_body_bytes after the head:
// needing a byte beyond it means the body does not end within the limit (413). Bytes beyond
// the window are never looked at, so the verdict never depends on how the input was split.
ParseResult RequestParser::parse_chunked(std::string_view whole) {
  const std::size_t window_end = head_end_ + limits_.max_raw_body_bytes;
  const bool truncated = whole.size() > window_end;
  const std::string_view in = truncated ? whole.substr(0, window_end) : whole;
  const auto need_more = [&]() -> ParseResult {
    if (truncated) return fail(413, "request body too large (framing included)");
    ParseResult r;
    r.expect_continue = expect_continue_;
    return r;
  };
  // Finds the LF ending the line at pos_ among its first `max_line` bytes (CR excluded):
  // npos when not there yet.
  const auto find_line_end = [&](std::size_t max_line) {
    const std::size_t limit = std::min(in.size(), pos_ + max_line + 2);  // + CR LF
    const void* hit = std::memchr(in.data() + pos_, '\n', limit - pos_);
    return hit == nullptr ? std::string_view::npos
                          : static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
  };
  for (;;) {
    switch (chunk_) {
      case Chunk::size_line: {
        const std::size_t nl = find_line_end(limits_.max_chunk_line);
        if (nl == std::string_view::npos) {
          if (in.size() - pos_ >= limits_.max_chunk_line + 2) {
            return fail(400, "chunk size line too long");
          }
          return need_more();
        }
        std::string_view line = in.substr(pos_, nl - pos_);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > limits_.max_chunk_line) return fail(400, "chunk size line too long");
        std::size_t i = 0;
        std::uint64_t size = 0;
        while (i < line.size()) {
          const int h = hex_value(static_cast<unsigned char>(line[i]));
          if (h < 0) break;
          size = size * 16 + static_cast<std::uint64_t>(h);
          if (size > limits_.max_body_bytes) return fail(413, "request body too large");
          ++i;
        }
        if (i == 0) return fail(400, "malformed chunk size");
        std::string_view ext = line.substr(i);
        while (!ext.empty() && (ext.front() == ' ' || ext.front() == '\t')) ext.remove_prefix(1);
        if (!ext.empty() && ext.front() != ';') return fail(400, "malformed chunk size");
        if (!is_field_value(ext)) return fail(400, "control character in chunk extension");
        pos_ = nl + 1;
        if (size == 0) {
          chunk_ = Chunk::trailer;
        } else {
          if (decoded_.size() + size > limits_.max_body_bytes) {
            return fail(413, "request body too large");
          }
          chunk_left_ = size;
          chunk_ = Chunk::data;
        }
        break;
      }
      case Chunk::data: {
        const std::size_t avail = in.size() - pos_;
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(avail, chunk_left_));
        decoded_.append(in.substr(pos_, take));
        pos_ += take;
        chunk_left_ -= take;
        if (chunk_left_ > 0) return need_more();
        chunk_ = Chunk::data_end;
        break;
      }
      case Chunk::data_end: {
        if (pos_ >= in.size()) return need_more();
        if (in[pos_] == '\n') {
          pos_ += 1;
        } else if (in[pos_] == '\r') {
          if (pos_ + 1 >= in.size()) return need_more();
          if (in[pos_ + 1] != '\n') return fail(400, "chunk data not followed by CRLF");
          pos_ += 2;
        } else {
          return fail(400, "chunk data not followed by CRLF");
        }
        chunk_ = Chunk::size_line;
        break;
      }
      case Chunk::trailer: {
        // The whole trailer section, blank line included, fits in max_trailer_bytes.
        const std::size_t room = limits_.max_trailer_bytes - trailer_bytes_;
        const std::size_t limit = std::min(in.size(), pos_ + room);
        const void* hit = std::memchr(in.data() + pos_, '\n', limit - pos_);
        if (hit == nullptr) {
          if (in.size() - pos_ >= room) return fail(431, "trailer section too large");
          return need_more();
        }
        const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
        trailer_bytes_ += nl + 1 - pos_;
        std::string_view line = in.substr(pos_, nl - pos_);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos_ = nl + 1;
        if (line.empty()) {
          ParseResult r;
          r.state = ParseState::complete;
          r.consumed = pos_;
          return r;
        }
        // Trailer fields are checked for shape and otherwise ignored.
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon)) ||
            !is_field_value(line.substr(colon + 1))) {
          return fail(400, "malformed trailer field");
        }
        break;
      }
    }
  }
}

}  // namespace http_example
