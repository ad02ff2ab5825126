// examples/redis/resp.cpp — see resp.hpp.
#include "resp.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace redis_example {
namespace {

// sdssplitargs() skips blanks with isspace() but ends an unquoted word only at these four.
bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool ends_word(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_decimal(std::string& out, long long v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// The end of a "*<n>" or "$<len>" line that starts at `start`, searched from `from`.
enum class LineEnd { found, more, bad, too_long };
struct Line {
  LineEnd end;
  std::size_t cr;  // found: the offset of its '\r'
};

// The verdict depends only on the bytes, never on how they were split into reads: a line
// longer than max_len is too long whether its CR is already here or not (a CR alone at the
// end does not count: its LF may come next), and only a CR within the limit can be "bad".
Line find_line_end(std::string_view in, std::size_t start, std::size_t from,
                   std::size_t max_len) noexcept {
  const auto cr = in.find('\r', from);
  if (cr == std::string_view::npos) {
    return {in.size() - start > max_len ? LineEnd::too_long : LineEnd::more, 0};
  }
  if (cr - start > max_len) return {LineEnd::too_long, 0};
  if (cr + 1 >= in.size()) return {LineEnd::more, 0};
  return {in[cr + 1] == '\n' ? LineEnd::found : LineEnd::bad, cr};
}

// The common case of a "*<n>" or "$<n>" line that starts at `start`: up to 18 digits, no
// leading zero, then CRLF, all in `in`. Parsed in one pass (no separate search for the CR, no
// second pass over the digits): sets `cr` and `value` and returns true. Anything else (a sign,
// a long or malformed number, a line not complete yet) returns false and takes the general
// path, find_line_end + parse_int, which decides the same line the same way; this one only
// answers where that one would find a valid count.
bool quick_count_line(std::string_view in, std::size_t start, std::size_t max_len,
                      std::size_t& cr, long long& value) noexcept {
  const std::size_t first = start + 1;
  const std::size_t stop = std::min(in.size(), first + 18);
  std::size_t i = first;
  long long v = 0;
  while (i < stop && in[i] >= '0' && in[i] <= '9') v = v * 10 + (in[i++] - '0');
  if (i == first || i + 1 >= in.size() || in[i] != '\r' || in[i + 1] != '\n') return false;
  if (in[first] == '0' && i - first > 1) return false;  // "01": refused by the general path
  if (i - start > max_len) return false;                 // too long: the general path says so
  cr = i;
  value = v;
  return true;
}

}  // namespace

bool parse_int(std::string_view s, long long& out) noexcept {
  // Redis's string2ll(): at most 20 bytes; "0" alone or a digit 1-9 then digits; an optional
  // '-' in front (but not "-0"); nothing else, no overflow.
  if (s.empty() || s.size() > 20) return false;
  if (s.size() == 1 && s[0] == '0') {
    out = 0;
    return true;
  }
  std::size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative && ++i == s.size()) return false;
  if (s[i] < '1' || s[i] > '9') return false;
  unsigned long long v = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(v, 10ULL, &v) ||
        __builtin_add_overflow(v, static_cast<unsigned long long>(c - '0'), &v)) {
      return false;
    }
  }
  constexpr auto kMax = static_cast<unsigned long long>(LLONG_MAX);
  if (negative) {
    if (v > kMax + 1) return false;
    out = v == kMax + 1 ? LLONG_MIN : -static_cast<long long>(v);
  } else {
    if (v > kMax) return false;
    out = static_cast<long long>(v);
  }
  return true;
}

bool split_inline(std::string_view line, std::vector<std::string>& out) {
  out.clear();
  line = line.substr(0, line.find('\0'));  // Redis splits a C string: a NUL ends the line
  std::size_t p = 0;
  const std::size_t n = line.size();
  auto at = [&](std::size_t i) { return i < n ? line[i] : '\0'; };
  for (;;) {
    while (p < n && is_space(line[p])) ++p;
    if (p >= n) return true;
    std::string current;
    bool in_dq = false, in_sq = false, done = false;
    while (!done) {
      const char c = at(p);
      if (in_dq) {
        if (c == '\\' && at(p + 1) == 'x' && hex_digit(at(p + 2)) >= 0 &&
            hex_digit(at(p + 3)) >= 0) {
          current.push_back(static_cast<char>(hex_digit(at(p + 2)) * 16 + hex_digit(at(p + 3))));
          p += 3;
        } else if (c == '\\' && p + 1 < n) {
          ++p;
          switch (line[p]) {
            case 'n': current.push_back('\n'); break;
            case 'r': current.push_back('\r'); break;
            case 't': current.push_back('\t'); break;
            case 'b': current.push_back('\b'); break;
            case 'a': current.push_back('\a'); break;
            default: current.push_back(line[p]); break;
          }
        } else if (c == '"') {
          // The closing quote must be followed by a space or nothing at all.
          if (p + 1 < n && !is_space(line[p + 1])) return false;
          done = true;
        } else if (p >= n) {
          return false;  // unterminated quotes
        } else {
          current.push_back(c);
        }
      } else if (in_sq) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (p + 1 < n && !is_space(line[p + 1])) return false;
          done = true;
        } else if (p >= n) {
          return false;
        } else {
          current.push_back(c);
        }
      } else {
        if (p >= n || ends_word(c)) {
          done = true;
        } else if (c == '"') {
          in_dq = true;
        } else if (c == '\'') {
          in_sq = true;
        } else {
          current.push_back(c);
        }
      }
      if (p < n) ++p;
    }
    out.push_back(std::move(current));
  }
}

void RespParser::reset() noexcept {
  multibulk_ = false;
  pos_ = 0;
  expected_ = 0;
  scan_from_ = 0;
  spans_.clear();
}

ParseResult RespParser::fail(std::string_view why) {
  reset();
  ParseResult r;
  r.status = ParseStatus::error;
  r.error = why;
  return r;
}

ParseResult RespParser::parse_inline(std::string_view in, std::vector<std::string_view>& args) {
  const auto nl = in.find('\n', scan_from_);
  if (nl == std::string_view::npos) {
    if (in.size() > limits_.max_inline_bytes) return fail("too big inline request");
    scan_from_ = in.size();  // resume the search here when more bytes arrive
    return {};
  }
  scan_from_ = 0;
  if (nl > limits_.max_inline_bytes) return fail("too big inline request");
  std::string_view line = in.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!split_inline(line, inline_args_)) return fail("unbalanced quotes in request");
  for (const auto& a : inline_args_) args.emplace_back(a);
  ParseResult r;
  r.status = ParseStatus::complete;
  r.consumed = nl + 1;
  return r;
}

// The common case, in one pass: a whole multibulk command of at most kQuickArgs arguments,
// every count a plain number, all of it already in `in`. Arguments go straight into args,
// with none of the resumable state (spans_, pos_) that a command split across reads needs.
// False on anything else (args then cleared), and parse() takes the general path, which
// decides the same bytes the same way: this one only completes where that one would.
bool RespParser::parse_whole(std::string_view in, std::vector<std::string_view>& args,
                             std::size_t& consumed) {
  std::size_t cr = 0;
  long long n = 0;
  if (!quick_count_line(in, 0, limits_.max_inline_bytes, cr, n)) return false;
  if (n <= 0 || n > kQuickArgs || static_cast<std::size_t>(n) > limits_.max_args) return false;
  std::size_t pos = cr + 2;
  for (long long i = 0; i < n; ++i) {
    long long len = 0;
    if (pos >= in.size() || in[pos] != '$' ||
        !quick_count_line(in, pos, limits_.max_inline_bytes, cr, len) ||
        static_cast<unsigned long long>(len) > limits_.max_bulk_bytes) {
      args.clear();
      return false;
    }
    const auto ulen = static_cast<std::size_t>(len);
    const std::size_t data = cr + 2;
    if (data + ulen + 2 > limits_.max_command_bytes || in.size() - data < ulen + 2 ||
        in[data + ulen] != '\r' || in[data + ulen + 1] != '\n') {
      args.clear();
      return false;
    }
    args.emplace_back(in.data() + data, ulen);
    pos = data + ulen + 2;
  }
  consumed = pos;
  return true;
}

ParseResult RespParser::parse(std::string_view in, std::vector<std::string_view>& args) {
  args.clear();
  if (!multibulk_) {
    if (in.empty()) return {};
    if (in.front() != '*') return parse_inline(in, args);
    if (std::size_t consumed = 0; parse_whole(in, args, consumed)) {
      scan_from_ = 0;  // an earlier call may have left a partial "*" line's search point
      ParseResult r;
      r.status = ParseStatus::complete;
      r.consumed = consumed;
      return r;
    }

    std::size_t cr = 0;
    long long n = 0;
    if (!quick_count_line(in, 0, limits_.max_inline_bytes, cr, n)) {
      const Line line =
          find_line_end(in, 0, std::max<std::size_t>(1, scan_from_), limits_.max_inline_bytes);
      if (line.end == LineEnd::too_long) return fail("too big mbulk count string");
      if (line.end == LineEnd::bad) return fail("invalid multibulk length");
      if (line.end == LineEnd::more) {
        scan_from_ = in.size() - 1;  // a '\r' may be the last byte
        return {};
      }
      cr = line.cr;
      if (!parse_int(in.substr(1, cr - 1), n)) return fail("invalid multibulk length");
    }
    scan_from_ = 0;
    if (n > static_cast<long long>(limits_.max_args)) return fail("invalid multibulk length");
    if (n <= 0) {  // "*0" and "*-1": nothing to run
      ParseResult r;
      r.status = ParseStatus::complete;
      r.consumed = cr + 2;
      return r;
    }
    multibulk_ = true;
    expected_ = static_cast<std::size_t>(n);
    pos_ = cr + 2;
    spans_.clear();
    spans_.reserve(std::min<std::size_t>(expected_, 1024));
  }

  while (spans_.size() < expected_) {
    if (pos_ >= in.size()) return {};
    if (in[pos_] != '$') {
      const char got = in[pos_];
      ParseResult r = fail("expected '$'");
      r.got = got;
      return r;
    }
    std::size_t cr = 0;
    long long len = 0;
    if (!quick_count_line(in, pos_, limits_.max_inline_bytes, cr, len)) {
      const Line line =
          find_line_end(in, pos_, std::max(pos_ + 1, scan_from_), limits_.max_inline_bytes);
      if (line.end == LineEnd::too_long) return fail("too big bulk count string");
      if (line.end == LineEnd::bad) return fail("invalid bulk length");
      if (line.end == LineEnd::more) {
        scan_from_ = in.size() - 1;
        return {};
      }
      cr = line.cr;
      if (!parse_int(in.substr(pos_ + 1, cr - pos_ - 1), len)) return fail("invalid bulk length");
    }
    scan_from_ = 0;
    if (len < 0 || static_cast<unsigned long long>(len) > limits_.max_bulk_bytes) {
      return fail("invalid bulk length");
    }
    const auto ulen = static_cast<std::size_t>(len);
    const std::size_t data = cr + 2;
    // The whole command, framing included, must fit the query buffer limit: refused here, at
    // the "$" line, before its data is buffered.
    if (data + ulen + 2 > limits_.max_command_bytes) return fail("command too large");
    if (in.size() - data < ulen + 2) return {};  // wait for the data and its CRLF
    if (in[data + ulen] != '\r' || in[data + ulen + 1] != '\n') {
      return fail("bulk data not followed by CRLF");
    }
    spans_.emplace_back(data, ulen);
    pos_ = data + ulen + 2;
  }

  for (const auto& [off, len] : spans_) args.push_back(in.substr(off, len));
  ParseResult r;
  r.status = ParseStatus::complete;
  r.consumed = pos_;
  reset();
  return r;
}

void reply_status(std::string& out, std::string_view s) {
  out.append(1, '+').append(s).append("\r\n", 2);
}

void reply_ok(std::string& out) { out.append("+OK\r\n", 5); }

void reply_error(std::string& out, std::string_view s) {
  out += '-';
  // Error lines must not contain CR/LF.
  for (char c : s) out += (c == '\r' || c == '\n') ? ' ' : c;
  out += "\r\n";
}

void reply_int(std::string& out, long long v) {
  out += ':';
  append_decimal(out, v);
  out += "\r\n";
}

void reply_bulk(std::string& out, std::string_view s) {
  char head[24] = {'$'};  // "$<len>\r\n" built aside: three appends, not five
  char* end = std::to_chars(head + 1, head + sizeof head - 2, s.size()).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append(head, static_cast<std::size_t>(end - head)).append(s).append("\r\n", 2);
}

void reply_null(std::string& out) { out += "$-1\r\n"; }

void reply_null_array(std::string& out) { out += "*-1\r\n"; }

void reply_array(std::string& out, std::size_t n) {
  out += '*';
  append_decimal(out, static_cast<long long>(n));
  out += "\r\n";
}

void reply_double(std::string& out, double v) {
  if (std::isinf(v)) {
    reply_bulk(out, v > 0 ? "inf" : "-inf");
    return;
  }
  // "%.17g" as Redis 7.0's addReplyDouble(): 0.1 is "0.10000000000000001" (7.2 went shortest).
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  reply_bulk(out, std::string_view(buf, static_cast<std::size_t>(n)));
}

}  // namespace redis_example
