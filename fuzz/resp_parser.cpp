// Fuzz harness: the RESP2 request parser of examples/redis (multibulk and inline commands).
//
// The input is [limits preset][split seed][stream]. The stream is fed to the parser the way a
// connection delivers it: once whole, and once in chunks whose sizes come from the seed (with
// what each parse leaves unconsumed kept in front of the next chunk). Checked:
// - the chunked run gives exactly the one-shot run's commands and the same final outcome
//   (protocol error and its reason, or the number of bytes left unconsumed);
// - every `consumed` is > 0 and <= the bytes offered; a multibulk command's arguments lie in
//   the bytes it consumed and there are at most max_args of them, each at most max_bulk_bytes;
//   an inline command's line is at most max_inline_bytes;
// - what a parse leaves waiting is bounded by the limits: an incomplete command holds at most
//   max_command_bytes + max_inline_bytes of input, and at most max_args remembered arguments;
// - parse(redis_test::cmd(command)) gives the command back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "examples/redis/resp.hpp"
#include "tests/examples/resp_command.hpp"

namespace {

using redis_example::ParseStatus;
using redis_example::RespLimits;
using redis_example::RespParser;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;  // empty: no protocol error
  char got = 0;
  std::size_t left = 0;  // bytes unconsumed at the end

  bool operator==(const Outcome&) const = default;
};

void check(bool ok) {
  if (!ok) std::abort();
}

// Parses every complete command at the front of `pending`; erases what was consumed. Returns
// false after a protocol error (the connection would be closed).
bool drain(RespParser& parser, std::string& pending, Outcome& out) {
  std::vector<std::string_view> args;
  const RespLimits& limits = parser.limits();
  for (;;) {
    const auto r = parser.parse(pending, args);
    if (r.status == ParseStatus::incomplete) {
      check(args.empty());
      check(parser.pending_args() <= limits.max_args);
      check(pending.size() <= limits.max_command_bytes + limits.max_inline_bytes);
      return true;
    }
    if (r.status == ParseStatus::error) {
      check(!r.error.empty());
      out.error = std::string(r.error);
      out.got = r.got;
      pending.clear();
      return false;
    }
    check(r.consumed > 0 && r.consumed <= pending.size());
    if (pending[0] != '*') check(r.consumed <= limits.max_inline_bytes + 1);  // the line and its LF
    std::vector<std::string> command;
    const std::string_view consumed(pending.data(), r.consumed);
    for (auto a : args) {
      if (pending[0] == '*') {  // multibulk arguments are views into the consumed bytes
        check(a.data() >= consumed.data() && a.data() + a.size() <= consumed.data() + consumed.size());
      }
      command.emplace_back(a);
    }
    if (pending[0] == '*') {
      check(command.size() <= limits.max_args);
      std::size_t raw = 0;
      for (const auto& a : command) raw += a.size();
      check(raw <= limits.max_command_bytes);
      for (const auto& a : command) check(a.size() <= limits.max_bulk_bytes);
    }
    pending.erase(0, r.consumed);
    out.commands.push_back(std::move(command));
  }
}

Outcome run(const RespLimits& limits, std::string_view stream, std::uint64_t split_seed) {
  RespParser parser(limits);
  Outcome out;
  std::string pending;
  std::uint64_t state = split_seed;
  std::size_t at = 0;
  while (at < stream.size()) {
    std::size_t chunk = stream.size() - at;
    if (split_seed != 0) {  // splitmix64 picks 1..16 bytes, now and then a large piece
      state += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      chunk = std::min<std::size_t>(chunk, (z & 7) == 0 ? 1 + (z >> 8) % 512 : 1 + (z >> 8) % 16);
    }
    pending.append(stream.substr(at, chunk));
    at += chunk;
    if (!drain(parser, pending, out)) return out;
  }
  out.left = pending.size();
  return out;
}


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // Small limits make every limit reachable with short inputs; the defaults are the server's.
  static const RespLimits kPresets[] = {
      {},
      {.max_bulk_bytes = 16, .max_args = 4, .max_command_bytes = 64, .max_inline_bytes = 32},
      {.max_bulk_bytes = 1, .max_args = 2, .max_command_bytes = 24, .max_inline_bytes = 8},
      {.max_bulk_bytes = 300, .max_args = 100, .max_command_bytes = 1000, .max_inline_bytes = 200},
  };
  const RespLimits& limits = kPresets[data[0] % 4];
  const std::uint64_t split_seed = data[1] | 1;  // never 0: 0 means one shot
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  const Outcome whole = run(limits, stream, 0);
  const Outcome pieces = run(limits, stream, split_seed);
  check(whole == pieces);

  // Round trip: each parsed command, written as multibulk, parses back to itself (under the
  // default limits, which every command parsed above also fits).
  for (const auto& command : whole.commands) {
    if (command.empty()) continue;
    const Outcome again = run(RespLimits{}, redis_test::cmd(command), 0);
    check(again.error.empty() && again.left == 0 && again.commands.size() == 1 &&
          again.commands[0] == command);
  }
  return 0;
}
