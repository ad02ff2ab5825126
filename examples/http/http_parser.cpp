// examples/http/http_parser.cpp — see http_parser.hpp.
#include "http_parser.hpp"

#include <algorithm>
#include <cstring>

namespace http_example {
namespace {

// RFC 9110 tchar: the characters of a token (methods, header names, codings).
bool is_tchar(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s) {
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

// Splits off the next line (without its LF and an optional CR before it). Returns false when
// `rest` holds no complete line. `bad_cr` is set when a CR appears anywhere else in the line.
bool next_line(std::string_view& rest, std::string_view& line, bool& bad_cr) noexcept {
  const auto nl = rest.find('\n');
  if (nl == std::string_view::npos) return false;
  line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  bad_cr = line.find('\r') != std::string_view::npos;
  return true;
}

struct HeadInfo {
  int status = 0;
  std::string_view reason;
  bool chunked = false;
  bool has_length = false;
  std::uint64_t content_length = 0;
};

HeadInfo head_error(int status, std::string_view reason) {
  HeadInfo h;
  h.status = status;
  h.reason = reason;
  return h;
}

// Parses a complete head (request line through the blank line) into req.
HeadInfo parse_head(std::string_view head, const Limits& limits, Request& req) {
  req.headers.clear();
  req.body_storage.clear();
  req.body_view = {};
  req.chunked = false;
  req.expect_continue = false;
  req.query = {};

  std::string_view rest = head;
  std::string_view line;
  bool bad_cr = false;

  // ---- request line: method SP request-target SP HTTP-version ----
  if (!next_line(rest, line, bad_cr)) return head_error(400, "incomplete request line");
  if (bad_cr) return head_error(400, "stray CR in request line");
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return head_error(400, "malformed request line");
  req.method = line.substr(0, sp1);
  if (!is_token(req.method)) return head_error(400, "malformed method");
  const std::string_view after_method = line.substr(sp1 + 1);
  const auto sp2 = after_method.find(' ');
  if (sp2 == std::string_view::npos) return head_error(400, "malformed request line");
  req.target = after_method.substr(0, sp2);
  const std::string_view version = after_method.substr(sp2 + 1);

  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return head_error(400, "malformed HTTP version");
  }
  if (version[5] != '1') return head_error(505, "only HTTP/1.x is supported");
  req.version_minor = version[7] == '0' ? 0 : 1;  // 1.2+ is answered as 1.1 (RFC 9110 2.5)

  if (req.target.empty()) return head_error(400, "empty request target");
  for (unsigned char c : req.target) {
    if (c <= 0x20 || c >= 0x7f || c == '#') return head_error(400, "bad character in target");
  }
  std::string_view path = req.target;
  if (path == "*") {
    req.path = path;
  } else {
    if (path.front() != '/') {
      // absolute-form: scheme "://" authority [path-abempty] [? query]
      std::string_view scheme_rest;
      if (path.size() >= 7 && iequals(path.substr(0, 7), "http://")) {
        scheme_rest = path.substr(7);
      } else if (path.size() >= 8 && iequals(path.substr(0, 8), "https://")) {
        scheme_rest = path.substr(8);
      } else {
        return head_error(400, "request target is not a path");
      }
      const auto slash = scheme_rest.find_first_of("/?");
      if (slash == 0) return head_error(400, "empty authority");
      if (slash == std::string_view::npos) {
        path = "/";
      } else if (scheme_rest[slash] == '?') {
        req.query = scheme_rest.substr(slash + 1);
        path = "/";
      } else {
        path = scheme_rest.substr(slash);
      }
    }
    const auto q = path.find('?');
    if (q != std::string_view::npos) {
      req.query = path.substr(q + 1);
      path = path.substr(0, q);
    }
    req.path = path;
  }

  // ---- header lines ----
  int hosts = 0;
  bool close = false;
  bool keep_alive_token = false;
  bool has_te = false;
  int chunked_codings = 0;
  bool other_coding = false;
  HeadInfo info;
  for (;;) {
    if (!next_line(rest, line, bad_cr)) return head_error(400, "unterminated header section");
    if (line.empty()) break;
    if (bad_cr) return head_error(400, "stray CR in header line");
    if (line.front() == ' ' || line.front() == '\t') {
      return head_error(400, "obsolete header line folding");
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return head_error(400, "header line without colon");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return head_error(400, "malformed header name");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!is_field_value(value)) return head_error(400, "control character in header value");
    if (req.headers.size() >= limits.max_headers) return head_error(431, "too many header fields");
    req.headers.push_back({name, value});

    if (iequals(name, "host")) {
      ++hosts;
    } else if (iequals(name, "content-length")) {
      const bool digits = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
        return c >= '0' && c <= '9';
      });
      if (!digits) return head_error(400, "malformed Content-Length");
      if (value.size() > 19) return head_error(413, "request body too large");  // > 2^63
      std::uint64_t n = 0;
      for (char c : value) n = n * 10 + static_cast<std::uint64_t>(c - '0');
      if (info.has_length && n != info.content_length) {
        return head_error(400, "conflicting Content-Length fields");
      }
      info.has_length = true;
      info.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      has_te = true;
      std::string_view list = value;
      while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view coding = trim_ows(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (coding.empty()) continue;
        if (iequals(coding, "chunked")) {
          ++chunked_codings;
        } else {
          other_coding = true;
        }
      }
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) close = true;
      if (has_token(value, "keep-alive")) keep_alive_token = true;
    } else if (iequals(name, "expect")) {
      if (!iequals(value, "100-continue")) return head_error(417, "unsupported expectation");
      req.expect_continue = req.version_minor >= 1;  // HTTP/1.0 must ignore it
    }
  }

  if (req.version_minor >= 1 && hosts != 1) return head_error(400, "exactly one Host field required");
  if (hosts > 1) return head_error(400, "more than one Host field");
  if (has_te) {
    if (req.version_minor == 0) return head_error(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (info.has_length) return head_error(400, "both Transfer-Encoding and Content-Length");
    if (other_coding) return head_error(501, "unsupported transfer coding");
    if (chunked_codings != 1) return head_error(400, "malformed Transfer-Encoding");
    info.chunked = true;
  }
  if (info.has_length && info.content_length > limits.max_body_bytes) {
    return head_error(413, "request body too large");
  }
  req.keep_alive = req.version_minor >= 1 ? !close : (keep_alive_token && !close);
  return info;
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
  // Leading empty lines are ignored (RFC 9112 2.2); they count as part of this request.
  std::size_t start = 0;
  while (start < in.size()) {
    if (in[start] == '\n') {
      ++start;
    } else if (in[start] == '\r' && start + 1 < in.size() && in[start + 1] == '\n') {
      start += 2;
    } else {
      break;
    }
  }

  bool head_now = false;
  if (head_end_ == 0) {
    // Find the blank line ending the head: "\n\n" or "\n\r\n".
    std::size_t end = 0;
    std::size_t i = std::max(start, scanned_);
    while (i < in.size()) {
      const void* hit = std::memchr(in.data() + i, '\n', in.size() - i);
      if (hit == nullptr) break;
      i = static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
      if (i + 1 < in.size() && in[i + 1] == '\n') {
        end = i + 2;
        break;
      }
      if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
        end = i + 3;
        break;
      }
      ++i;
    }
    if (end == 0) {
      if (in.size() > limits_.max_head_bytes) return fail(431, "request header section too large");
      scanned_ = std::max(start, in.size() >= 2 ? in.size() - 2 : std::size_t{0});
      return {};
    }
    if (end > limits_.max_head_bytes) return fail(431, "request header section too large");

    const HeadInfo info = parse_head(in.substr(start, end - start), limits_, req);
    if (info.status != 0) return fail(info.status, info.reason);
    head_end_ = end;
    head_now = true;
    expect_continue_ = req.expect_continue;
    if (info.chunked) {
      body_ = Body::chunked;
      pos_ = end;
    } else if (info.has_length && info.content_length > 0) {
      body_ = Body::length;
      content_length_ = info.content_length;
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
  if (!head_now) (void)parse_head(in.substr(start, head_end_ - start), limits_, req);
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
