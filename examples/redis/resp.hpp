// examples/redis/resp.hpp — RESP2 request parsing (multibulk and inline) and reply encoding.
//
// The parser works on "everything the connection has received and not yet consumed" (what
// gnet::Conn::peek() returns). On `incomplete` consume nothing and call again later with the
// same bytes followed by more: progress is remembered (offsets of the arguments parsed so far),
// so a large command arriving in many reads is parsed once, not once per read. On `complete`
// consume `consumed` bytes; `args` views the input (or the parser's own storage for inline
// commands with quotes) and stays valid until the next parse() call or until the input changes.
// An empty command (empty inline line, "*0") completes with no arguments: skip it. On `error`
// reply "-ERR Protocol error: <error>" and close the connection, as Redis does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redis_example {

// What one command may hold. A parse never keeps more than the command's own bytes (which
// the connection buffers, at most max_command_bytes) plus 16 bytes of offsets per argument
// (at most max_args of them).
struct RespLimits {
  std::size_t max_bulk_bytes = 64 * 1024 * 1024;      // one argument: proto-max-bulk-len
  std::size_t max_args = 1024 * 1024;                 // arguments of one command ("*<n>")
  std::size_t max_command_bytes = 128 * 1024 * 1024;  // one command, framing included:
                                                      // client-query-buffer-limit
  std::size_t max_inline_bytes = 64 * 1024;           // an inline command line, or a "*"/"$" line
};

enum class ParseStatus { complete, incomplete, error };

struct ParseResult {
  ParseStatus status = ParseStatus::incomplete;
  std::size_t consumed = 0;   // complete: bytes of this command
  std::string_view error;     // error: "invalid bulk length", ... (static string)
  char got = 0;               // error "expected '$'": the byte found instead
};

class RespParser {
 public:
  explicit RespParser(RespLimits limits = {}) : limits_(limits) {}

  ParseResult parse(std::string_view in, std::vector<std::string_view>& args);
  void reset() noexcept;
  const RespLimits& limits() const noexcept { return limits_; }
  // Arguments of the unfinished multibulk command remembered so far (at most max_args).
  std::size_t pending_args() const noexcept { return spans_.size(); }

 private:
  static constexpr long long kQuickArgs = 64;  // parse_whole() takes commands up to this many
  bool parse_whole(std::string_view in, std::vector<std::string_view>& args, std::size_t& consumed);
  ParseResult parse_inline(std::string_view in, std::vector<std::string_view>& args);
  ParseResult fail(std::string_view why);

  RespLimits limits_;
  bool multibulk_ = false;    // inside a "*<n>" command
  std::size_t pos_ = 0;       // next unparsed byte of the multibulk command
  std::size_t expected_ = 0;  // arguments announced by "*<n>"
  std::size_t scan_from_ = 0; // where to resume looking for a line end
  std::vector<std::pair<std::size_t, std::size_t>> spans_;  // offset, length of parsed args
  std::vector<std::string> inline_args_;
};

// Splits an inline command line like redis-cli/sdssplitargs: whitespace-separated words,
// "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with \'.
// False on unbalanced quotes (or a closing quote not followed by a space).
bool split_inline(std::string_view line, std::vector<std::string>& out);

// Integers exactly as Redis's string2ll() reads them (commands' arguments, stored values, the
// "*<n>" and "$<len>" lines): optional '-', no leading zeros, no '+', no spaces, no "-0", at
// most 20 bytes, no overflow.
bool parse_int(std::string_view s, long long& out) noexcept;

// ---- reply encoding (RESP2) ----
void reply_status(std::string& out, std::string_view s);  // "+PONG"
void reply_ok(std::string& out);                           // "+OK", the most common reply
void reply_error(std::string& out, std::string_view s);   // "-ERR ..." (pass "ERR ...")
void reply_int(std::string& out, long long v);
void reply_bulk(std::string& out, std::string_view s);
void reply_null(std::string& out);        // "$-1" (nil bulk)
void reply_null_array(std::string& out);  // "*-1"
void reply_array(std::string& out, std::size_t n);
void reply_double(std::string& out, double v);  // bulk "%.17g", "inf"/"-inf" (Redis 7.0)

}  // namespace redis_example
