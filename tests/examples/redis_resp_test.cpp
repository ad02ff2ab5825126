// Unit tests of examples/redis: RESP parsing, commands and the key space (no sockets).
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "keyspace.hpp"
#include "name_table.hpp"
#include "resp_command.hpp"
#include "resp.hpp"

using namespace redis_example;

namespace {

using redis_test::bulk;
using redis_test::cmd;
using redis_test::numbered;

Config config_with(RespLimits limits) {
  Config c;
  c.limits = limits;
  return c;
}

const Config kDefaultConfig;

// A stand-in for a gnet connection: what was received and not consumed stays buffered.
struct FakeConn {
  explicit FakeConn(Keyspace& ks, const Config& config = kDefaultConfig)
      : ks(ks), session(config) {}

  std::string deliver(std::string_view bytes) {
    if (closed) return {};
    pending.append(bytes);
    std::string out;
    const Progress p = process(ks, session, pending, out);
    pending.erase(0, p.consumed);
    if (p.close) closed = true;
    return out;
  }

  Keyspace& ks;
  Session session;
  std::string pending;
  bool closed = false;
};

// Runs one command on a fresh connection and returns the raw reply.
std::string run(Keyspace& ks, std::initializer_list<std::string_view> args) {
  FakeConn c(ks);
  return c.deliver(cmd(args));
}

}  // namespace

TEST(RespParser, MultibulkAndInline) {
  RespParser p;
  std::vector<std::string_view> args;
  const std::string in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
  ParseResult r = p.parse(in, args);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.consumed, in.size());
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[0], "SET");
  EXPECT_EQ(args[1], "k");
  EXPECT_EQ(args[2], "");

  r = p.parse("set  k \"a b\\x41\\n\" 'it\\'s'\r\n", args);
  ASSERT_EQ(r.status, ParseStatus::complete);
  ASSERT_EQ(args.size(), 4u);
  EXPECT_EQ(args[2], "a bA\n");
  EXPECT_EQ(args[3], "it's");

  r = p.parse("\r\n", args);  // empty inline command: nothing to run
  EXPECT_EQ(r.status, ParseStatus::complete);
  EXPECT_TRUE(args.empty());
  r = p.parse("*0\r\n", args);
  EXPECT_EQ(r.status, ParseStatus::complete);
  EXPECT_TRUE(args.empty());
}

TEST(RespParser, BinarySafeBulk) {
  RespParser p;
  std::vector<std::string_view> args;
  const std::string payload("a\r\n\0b*$", 7);
  const std::string in = "*1\r\n$7\r\n" + payload + "\r\n";
  ASSERT_EQ(p.parse(in, args).status, ParseStatus::complete);
  ASSERT_EQ(args.size(), 1u);
  EXPECT_EQ(args[0], payload);
}

TEST(RespParser, IncrementalProgress) {
  RespParser p;
  std::vector<std::string_view> args;
  const std::string in = cmd({"RPUSH", "list", std::string(1000, 'x'), "y"});
  for (std::size_t n = 0; n < in.size(); ++n) {
    ASSERT_EQ(p.parse(std::string_view(in).substr(0, n), args).status, ParseStatus::incomplete)
        << n;
  }
  ASSERT_EQ(p.parse(in, args).status, ParseStatus::complete);
  EXPECT_EQ(args.size(), 4u);
  EXPECT_EQ(args[3], "y");
}

TEST(RespParser, SplitInline) {
  std::vector<std::string> out;
  EXPECT_TRUE(split_inline("  a   b\t\"\" ", out));
  EXPECT_EQ(out, (std::vector<std::string>{"a", "b", ""}));
  EXPECT_FALSE(split_inline("\"abc", out));
  EXPECT_FALSE(split_inline("'abc", out));
  EXPECT_FALSE(split_inline("\"abc\"x", out));
  EXPECT_TRUE(split_inline("x\"a b\"", out));  // a quote inside a word starts quoting
  EXPECT_EQ(out, (std::vector<std::string>{"xa b"}));
}

TEST(RespParser, ParseInt) {
  long long v = 0;
  EXPECT_TRUE(parse_int("-42", v));
  EXPECT_EQ(v, -42);
  EXPECT_TRUE(parse_int("9223372036854775807", v));
  EXPECT_FALSE(parse_int("9223372036854775808", v));
  EXPECT_FALSE(parse_int("", v));
  EXPECT_FALSE(parse_int("-", v));
  EXPECT_FALSE(parse_int("+1", v));
  EXPECT_FALSE(parse_int(" 1", v));
  EXPECT_FALSE(parse_int("1x", v));
  // Redis's string2ll() refuses what strtoll/from_chars would take.
  EXPECT_FALSE(parse_int("07", v));
  EXPECT_FALSE(parse_int("00", v));
  EXPECT_FALSE(parse_int("-0", v));
  EXPECT_FALSE(parse_int("-07", v));
  EXPECT_FALSE(parse_int("1 ", v));
  EXPECT_FALSE(parse_int(std::string_view("1\0", 2), v));
  EXPECT_FALSE(parse_int("18446744073709551616", v));
  EXPECT_FALSE(parse_int("-9223372036854775809", v));
  EXPECT_FALSE(parse_int("000000000000000000001", v));
  EXPECT_TRUE(parse_int("0", v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(parse_int("-9223372036854775808", v));
  EXPECT_EQ(v, LLONG_MIN);
}

// Count lines ("*<n>", "$<n>"): the one-pass path for plain decimals and the general path must
// give the same verdict, whatever the digits and wherever the input is cut.
TEST(RespParser, CountLinesEitherPath) {
  struct Case {
    std::string in;
    bool ok;
  };
  const Case cases[] = {
      {"*1\r\n$3\r\nGET\r\n", true},
      {"*1\r\n$0\r\n\r\n", true},
      {"*01\r\n$3\r\nGET\r\n", false},          // leading zero in the count
      {"*1\r\n$03\r\nGET\r\n", false},          // leading zero in the length
      {"*1\r\n$-0\r\n", false},
      {"*1\r\n$+3\r\nGET\r\n", false},
      {"*1\r\n$3 \r\nGET\r\n", false},
      {"*1\r\n$3\rx", false},                    // CR not followed by LF
      {"*1\r\n$\r\n", false},
      {"*1\r\n$100000000000000000000\r\n", false},  // 21 digits: past parse_int's 20 bytes
      {"*1\r\n$999999999999999999\r\n", false},     // 18 digits: over proto-max-bulk-len
      {"*000000000000000000001\r\n", false},
      {"*-1\r\n", true},                          // a null array: nothing to run
  };
  for (const auto& c : cases) {
    for (std::size_t cut = 0; cut <= c.in.size(); ++cut) {
      RespParser p;
      std::vector<std::string_view> args;
      ParseResult r = p.parse(std::string_view(c.in).substr(0, cut), args);
      if (r.status == ParseStatus::incomplete) r = p.parse(c.in, args);
      if (c.ok) {
        EXPECT_EQ(r.status, ParseStatus::complete) << c.in << " cut at " << cut;
      } else {
        EXPECT_NE(r.status, ParseStatus::complete) << c.in << " cut at " << cut;
        // A bad line is refused once it is all there, not kept waiting.
        if (cut == c.in.size()) {
          EXPECT_EQ(r.status, ParseStatus::error) << c.in;
        }
      }
    }
  }
  // The limit on a count line's length holds on the one-pass path too.
  RespLimits tiny;
  tiny.max_inline_bytes = 3;
  RespParser p(tiny);
  std::vector<std::string_view> args;
  EXPECT_EQ(p.parse("*1\r\n$123\r\n", args).status, ParseStatus::error);
  RespParser q(tiny);
  EXPECT_EQ(q.parse("*1\r\n$12\r\n", args).status, ParseStatus::incomplete);
}

// A whole command in one buffer takes the one-pass path (parse_whole); fed a byte at a time,
// the same bytes take the resumable one. Both must agree on every command, every error and
// every limit, at the edges of each limit and of the one-pass path's 64 arguments.
TEST(RespParser, WholeCommandEitherPath) {
  struct Outcome {
    ParseStatus status;
    std::vector<std::string> args;
    std::size_t consumed;
    std::string error;
    bool operator==(const Outcome&) const = default;
  };
  auto one_shot = [](const RespLimits& limits, std::string_view in) {
    RespParser p(limits);
    std::vector<std::string_view> args;
    const ParseResult r = p.parse(in, args);
    return Outcome{r.status, {args.begin(), args.end()}, r.consumed, std::string(r.error)};
  };
  auto byte_by_byte = [](const RespLimits& limits, std::string_view in) {
    RespParser p(limits);
    std::vector<std::string_view> args;
    ParseResult r;
    for (std::size_t n = 1; n <= in.size(); ++n) {
      r = p.parse(in.substr(0, n), args);
      if (r.status != ParseStatus::incomplete) break;
    }
    return Outcome{r.status, {args.begin(), args.end()}, r.consumed, std::string(r.error)};
  };
  RespLimits small;
  small.max_bulk_bytes = 8;
  small.max_args = 3;
  small.max_command_bytes = 40;
  std::vector<std::string> args64;
  for (int i = 0; i < 64; ++i) args64.push_back(std::to_string(i));
  std::vector<std::string> args65 = args64;
  args65.push_back("x");
  const std::pair<RespLimits, std::string> cases[] = {
      {{}, cmd({"SET", "key", "value"})},
      {{}, cmd({"SET", "key", "value"}) + "*1\r\n"},     // a second command follows
      {{}, cmd({"GET", std::string("a\0\r\nb", 5)})},  // binary-safe bulk
      {{}, cmd({"PING", ""})},
      {{}, cmd(args64)},
      {{}, cmd(args65)},                                   // past the one-pass path's 64
      {small, cmd({"A", "12345678"})},                     // a bulk at max_bulk_bytes
      {small, cmd({"A", "123456789"})},                    // one byte past it
      {small, cmd({"A", "B", "C"})},                       // max_args
      {small, cmd({"A", "B", "C", "D"})},                  // one past max_args
      {small, cmd({"AAAAAAA", "BBBBBBBB", "CCC"})},        // max_command_bytes exactly (40)
      {small, cmd({"AAAAAAA", "BBBBBBBB", "CCCC"})},       // one byte past it
      {{}, "*2\r\n$3\r\nGET\r\n:1\r\n"},               // not a '$'
      {{}, "*1\r\n$3\r\nGETxx"},                         // data not followed by CRLF
      {{}, "*1\r\n$3\r\nGET\r"},                         // incomplete at the very end
      {{}, "*2\r\n$-1\r\n"},
  };
  for (const auto& [limits, in] : cases) {
    EXPECT_EQ(one_shot(limits, in), byte_by_byte(limits, in)) << in;
  }
}

// SipHash-2-4 against the reference vectors (key 00 01 .. 0f, message 00 01 .. of each length;
// from the authors' reference code): the lengths cover an empty message, a tail of 1-7 bytes
// and whole words. SipHash-1-3, which the key space uses, shares every line but the round counts.
TEST(KeyHash, SipHashReferenceVectors) {
  const SipKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  std::string message;
  for (int i = 0; i < 64; ++i) message.push_back(static_cast<char>(i));
  const std::pair<std::size_t, std::uint64_t> vectors[] = {
      {0, 0x726fdb47dd0e0e31ULL},  {1, 0x74f839c593dc67fdULL},  {7, 0xab0200f58b01d137ULL},
      {8, 0x93f5f5799a932462ULL},  {15, 0xa129ca6149be45e5ULL}, {16, 0x3f2acc7f57c29bdbULL},
      {63, 0x958a324ceb064572ULL},
  };
  for (const auto& [length, expected] : vectors) {
    EXPECT_EQ((siphash<2, 4>(key, std::string_view(message).substr(0, length))), expected) << length;
  }
}

// The key space's hash is SipHash-1-3 under this process's random key (not a hash a client can
// compute), and a HashedKey carries exactly what the tables would compute themselves.
TEST(KeyHash, KeyedAndComputedOnce) {
  const SipKey& key = hash_key();
  EXPECT_FALSE(key.k0 == 0 && key.k1 == 0);
  const SipKey other{key.k0 ^ 1, key.k1};
  int same = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string k = numbered("key:", i);
    EXPECT_EQ(KeyHash{}(k), (siphash<1, 3>(key, k)));
    EXPECT_EQ(HashedKey(k).hash, KeyHash{}(k));
    EXPECT_LT(Keyspace::shard_index(HashedKey(k)), Keyspace::kShards);
    if ((siphash<1, 3>(other, k)) == (siphash<1, 3>(key, k))) ++same;
  }
  EXPECT_EQ(same, 0);  // one key bit changes every hash
  EXPECT_NE(KeyHash{}(std::string_view("")), 0u);
}

TEST(NameTable, FindsAnyCaseAndNothingElse) {
  const NameTable<int> table = {{"get", 1}, {"set", 2}, {"getset", 3}, {"sismember", 4}, {"s", 5}};
  ASSERT_EQ(table.size(), 5u);
  const auto value = [&](std::string_view name) {
    const auto* e = table.find(name);
    return e == nullptr ? 0 : e->value;
  };
  EXPECT_EQ(value("get"), 1);
  EXPECT_EQ(value("GET"), 1);
  EXPECT_EQ(value("gEt"), 1);
  EXPECT_EQ(value("set"), 2);
  EXPECT_EQ(value("GetSet"), 3);
  EXPECT_EQ(value("SISMEMBER"), 4);
  EXPECT_EQ(value("S"), 5);
  // Same length and initial, other letters; bytes that fold onto letters only under a wider
  // fold ('@' | 0x20 is '`', 0xC7 | 0x20 is 0xE7); other lengths; empty; too long.
  for (std::string_view miss : {"gex", "ge", "gett", "", "`et", "@ET", "g\xC5t", "ge\x14",
                                "getsetgetsetgetsetx", "1et"}) {
    EXPECT_EQ(table.find(miss), nullptr) << miss;
  }
  EXPECT_EQ(table.find(std::string_view("g\0t", 3)), nullptr);
  // Every entry is listed once.
  int sum = 0;
  for (const auto& e : table.entries()) sum += e.value;
  EXPECT_EQ(sum, 15);
  // A table with a bad name is refused at construction.
  EXPECT_THROW((NameTable<int>{{"Get", 1}}), std::invalid_argument);
  EXPECT_THROW((NameTable<int>{{"get-x", 1}}), std::invalid_argument);
  EXPECT_THROW((NameTable<int>{{"", 1}}), std::invalid_argument);
  EXPECT_THROW((NameTable<int>{{"get", 1}, {"get", 2}}), std::invalid_argument);
}

struct BadInput {
  const char* name;
  std::string input;
  std::string reply;
};

TEST(RespProtocol, ErrorsReplyAndClose) {
  RespLimits limits;
  limits.max_bulk_bytes = 1000;
  limits.max_inline_bytes = 100;
  limits.max_args = 10;
  limits.max_command_bytes = 2500;
  const Config config = config_with(limits);
  const std::vector<BadInput> cases = {
      {"bad count", "*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"too many args", "*11\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"count without LF", "*1\rx", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"not a bulk", "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
      {"negative bulk", "*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"bulk too long", "*1\r\n$1001\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"bulk not a number", "*1\r\n$1a\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"no CRLF after bulk", "*1\r\n$1\r\nabc\r\n",
       "-ERR Protocol error: bulk data not followed by CRLF\r\n"},
      // Framing counts: 4 + (7 + 1000 + 2) * 2 = 2022 bytes, then "$471\r\n" (6) + 471 + 2 is
      // one byte past 2500, refused at the "$" line.
      {"command too large", std::string("*3\r\n$1000\r\n").append(1000, 'a').append("\r\n$1000\r\n").append(1000, 'b').append("\r\n$471\r\n"),
       "-ERR Protocol error: command too large\r\n"},
      {"unbalanced quotes", "set k \"v\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {"inline too big", std::string(101, 'a'), "-ERR Protocol error: too big inline request\r\n"},
      {"count line too big", std::string("*").append(101, '1'),
       "-ERR Protocol error: too big mbulk count string\r\n"},
      // The same reason when the CRLF is there too: whole or byte by byte, never a reason that
      // depends on how the bytes were split (found by fuzz/resp_parser).
      {"count line too big, ended", "*" + std::string(101, '1') + "\r\n",
       "-ERR Protocol error: too big mbulk count string\r\n"},
      {"count line too big, bad CR", "*" + std::string(101, '1') + "\rx",
       "-ERR Protocol error: too big mbulk count string\r\n"},
      {"bulk line too big, ended", "*1\r\n$" + std::string(100, '1') + "\r\n",
       "-ERR Protocol error: too big bulk count string\r\n"},
  };
  for (const auto& c : cases) {
    Keyspace ks;
    // Whole and byte by byte: same reply, connection closed, nothing after the error runs.
    FakeConn whole(ks, config);
    EXPECT_EQ(whole.deliver(c.input), c.reply) << c.name;
    EXPECT_TRUE(whole.closed) << c.name;
    EXPECT_EQ(whole.deliver("PING\r\n"), "") << c.name;
    FakeConn bytes(ks, config);
    std::string out;
    for (char ch : c.input) out += bytes.deliver(std::string_view(&ch, 1));
    EXPECT_EQ(out, c.reply) << c.name;
    EXPECT_TRUE(bytes.closed) << c.name;
  }
}

TEST(RespProtocol, PipelineSplitAtEveryByteBoundary) {
  const std::string stream = cmd({"SET", "a", "1"}) + "PING\r\n" + cmd({"INCR", "a"}) +
                             "\r\n" + "get a\r\n" + cmd({"RPUSH", "l", "x", "y\r\nz"}) +
                             cmd({"LRANGE", "l", "0", "-1"}) + "echo \"q\\tq\"\n" +
                             cmd({"DEL", "a", "l"}) + cmd({"QUIT"}) + "PING\r\n";
  const std::string expected =
      "+OK\r\n+PONG\r\n:2\r\n$1\r\n2\r\n:2\r\n*2\r\n$1\r\nx\r\n$4\r\ny\r\nz\r\n$3\r\nq\tq\r\n:2\r\n"
      "+OK\r\n";
  {
    Keyspace ks;
    FakeConn c(ks);
    EXPECT_EQ(c.deliver(stream), expected);
    EXPECT_TRUE(c.closed);
  }
  for (std::size_t k = 1; k < stream.size(); ++k) {
    Keyspace ks;
    FakeConn c(ks);
    std::string out = c.deliver(std::string_view(stream).substr(0, k));
    out += c.deliver(std::string_view(stream).substr(k));
    ASSERT_EQ(out, expected) << "split at " << k;
  }
  Keyspace ks;
  FakeConn c(ks);
  std::string out;
  for (char ch : stream) out += c.deliver(std::string_view(&ch, 1));
  EXPECT_EQ(out, expected);
}

// A pipeline of commands with big replies: process() stops after the reply that reaches the
// budget and leaves the rest unconsumed; run again, it continues in order. The output of one
// call never passes the budget by more than one reply.
TEST(RespProtocol, ReplyBudgetStopsBetweenCommands) {
  Keyspace ks;
  Session session(kDefaultConfig);
  const std::string value(1000, 'v');
  std::string out;
  const std::string set = cmd({"SET", "big", value});
  ASSERT_EQ(process(ks, session, set, out).consumed, set.size());
  std::string pending;
  for (int i = 0; i < 50; ++i) pending += cmd({"GET", "big"}) + "PING\r\n";
  const std::string reply = "$1000\r\n" + value + "\r\n";
  std::string all;
  int calls = 0;
  while (!pending.empty()) {
    out.clear();
    const Progress p = process(ks, session, pending, out, 2500);
    ASSERT_GT(p.consumed, 0u);
    EXPECT_LE(out.size(), 2500 + reply.size());
    EXPECT_EQ(p.budget_reached, out.size() >= 2500);
    pending.erase(0, p.consumed);
    all += out;
    ++calls;
  }
  std::string expected;
  for (int i = 0; i < 50; ++i) expected += reply + "+PONG\r\n";
  EXPECT_EQ(all, expected);
  EXPECT_GE(calls, 50 * 1007 / (2500 + 1007));
  // A budget of 0 still runs one command per call: progress is always made.
  out.clear();
  const std::string two = cmd({"GET", "big"}) + cmd({"GET", "big"});
  const Progress p = process(ks, session, two, out, 0);
  EXPECT_EQ(p.consumed, two.size() / 2);
  EXPECT_TRUE(p.budget_reached);
  EXPECT_EQ(out, reply);
}

TEST(RedisCommands, Strings) {
  Keyspace ks;
  EXPECT_EQ(run(ks, {"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(run(ks, {"get", "k"}), bulk("v"));
  EXPECT_EQ(run(ks, {"SET", "k", "w", "NX"}), "$-1\r\n");
  EXPECT_EQ(run(ks, {"SET", "k2", "w", "XX"}), "$-1\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "w", "XX", "GET"}), bulk("v"));
  EXPECT_EQ(run(ks, {"SET", "k", "x", "nx", "xx"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "x", "EX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "x", "EX", "0"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "x", "EX", "abc"}),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "x", "EX", "9223372036854775"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run(ks, {"APPEND", "k", "yz"}), ":3\r\n");
  EXPECT_EQ(run(ks, {"STRLEN", "k"}), ":3\r\n");
  EXPECT_EQ(run(ks, {"MSET", "a", "1", "b", "2"}), "+OK\r\n");
  EXPECT_EQ(run(ks, {"MSET", "a", "1", "b"}),
            "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(run(ks, {"MGET", "a", "nope", "b"}), "*3\r\n" + bulk("1") + "$-1\r\n" + bulk("2"));
}

TEST(RedisCommands, Counters) {
  Keyspace ks;
  EXPECT_EQ(run(ks, {"INCR", "n"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"INCRBY", "n", "41"}), ":42\r\n");
  EXPECT_EQ(run(ks, {"DECR", "n"}), ":41\r\n");
  EXPECT_EQ(run(ks, {"DECRBY", "n", "-9"}), ":50\r\n");
  EXPECT_EQ(run(ks, {"INCRBY", "n", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run(ks, {"SET", "s", "abc"}), "+OK\r\n");
  EXPECT_EQ(run(ks, {"INCR", "s"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run(ks, {"SET", "big", "9223372036854775807"}), "+OK\r\n");
  EXPECT_EQ(run(ks, {"INCR", "big"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(run(ks, {"DECRBY", "n", "-9223372036854775808"}),
            "-ERR decrement would overflow\r\n");
  // Stored values and increments Redis does not read as integers.
  for (const char* bad : {"07", "00", "-0", "+1", " 1", "1 ", "0x10", "1e3", ""}) {
    EXPECT_EQ(run(ks, {"SET", "odd", bad}), "+OK\r\n");
    EXPECT_EQ(run(ks, {"INCR", "odd"}), "-ERR value is not an integer or out of range\r\n") << bad;
    EXPECT_EQ(run(ks, {"DECR", "odd"}), "-ERR value is not an integer or out of range\r\n") << bad;
    EXPECT_EQ(run(ks, {"INCRBY", "n", bad}), "-ERR value is not an integer or out of range\r\n")
        << bad;
    EXPECT_EQ(run(ks, {"DECRBY", "n", bad}), "-ERR value is not an integer or out of range\r\n")
        << bad;
  }
  EXPECT_EQ(run(ks, {"GET", "n"}), "$2\r\n50\r\n");
}

TEST(RedisCommands, KeysAndTypes) {
  Keyspace ks;
  run(ks, {"SET", "s", "1"});
  run(ks, {"RPUSH", "l", "1"});
  run(ks, {"SADD", "st", "1"});
  run(ks, {"HSET", "h", "f", "v"});
  run(ks, {"ZADD", "z", "1", "m"});
  EXPECT_EQ(run(ks, {"TYPE", "s"}), "+string\r\n");
  EXPECT_EQ(run(ks, {"TYPE", "l"}), "+list\r\n");
  EXPECT_EQ(run(ks, {"TYPE", "st"}), "+set\r\n");
  EXPECT_EQ(run(ks, {"TYPE", "h"}), "+hash\r\n");
  EXPECT_EQ(run(ks, {"TYPE", "z"}), "+zset\r\n");
  EXPECT_EQ(run(ks, {"TYPE", "none"}), "+none\r\n");
  EXPECT_EQ(run(ks, {"EXISTS", "s", "s", "l", "nope"}), ":3\r\n");
  EXPECT_EQ(run(ks, {"DBSIZE"}), ":5\r\n");
  EXPECT_EQ(run(ks, {"GET", "l"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  EXPECT_EQ(run(ks, {"LPUSH", "s", "x"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  EXPECT_EQ(run(ks, {"SET", "l", "now a string"}), "+OK\r\n");  // SET replaces any type
  EXPECT_EQ(run(ks, {"KEYS", "s*"}).substr(0, 4), "*2\r\n");
  EXPECT_EQ(run(ks, {"DEL", "s", "l", "nope"}), ":2\r\n");
  EXPECT_EQ(run(ks, {"FLUSHDB"}), "+OK\r\n");
  EXPECT_EQ(run(ks, {"DBSIZE"}), ":0\r\n");
}

TEST(RedisCommands, Lists) {
  Keyspace ks;
  EXPECT_EQ(run(ks, {"RPUSH", "l", "b", "c"}), ":2\r\n");
  EXPECT_EQ(run(ks, {"LPUSH", "l", "a", "z"}), ":4\r\n");  // z a b c
  EXPECT_EQ(run(ks, {"LRANGE", "l", "0", "-1"}),
            "*4\r\n" + bulk("z") + bulk("a") + bulk("b") + bulk("c"));
  EXPECT_EQ(run(ks, {"LRANGE", "l", "-2", "100"}), "*2\r\n" + bulk("b") + bulk("c"));
  EXPECT_EQ(run(ks, {"LRANGE", "l", "3", "1"}), "*0\r\n");
  EXPECT_EQ(run(ks, {"LRANGE", "l", "x", "1"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run(ks, {"LINDEX", "l", "-1"}), bulk("c"));
  EXPECT_EQ(run(ks, {"LLEN", "l"}), ":4\r\n");
  EXPECT_EQ(run(ks, {"LPOP", "l"}), bulk("z"));
  EXPECT_EQ(run(ks, {"RPOP", "l", "2"}), "*2\r\n" + bulk("c") + bulk("b"));
  EXPECT_EQ(run(ks, {"RPOP", "l", "-1"}), "-ERR value is out of range, must be positive\r\n");
  EXPECT_EQ(run(ks, {"LPOP", "l"}), bulk("a"));
  EXPECT_EQ(run(ks, {"EXISTS", "l"}), ":0\r\n");  // an emptied list is deleted
  EXPECT_EQ(run(ks, {"LPOP", "l"}), "$-1\r\n");
  EXPECT_EQ(run(ks, {"LPOP", "l", "3"}), "*-1\r\n");
}

TEST(RedisCommands, SetsHashesSortedSets) {
  Keyspace ks;
  EXPECT_EQ(run(ks, {"SADD", "s", "a", "b", "a"}), ":2\r\n");
  EXPECT_EQ(run(ks, {"SISMEMBER", "s", "a"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"SCARD", "s"}), ":2\r\n");
  EXPECT_EQ(run(ks, {"SREM", "s", "a", "x"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"SPOP", "s"}), bulk("b"));
  EXPECT_EQ(run(ks, {"SPOP", "s"}), "$-1\r\n");
  EXPECT_EQ(run(ks, {"SADD", "s", "1", "2", "3"}), ":3\r\n");
  EXPECT_EQ(run(ks, {"SPOP", "s", "5"}).substr(0, 4), "*3\r\n");

  EXPECT_EQ(run(ks, {"HSET", "h", "f1", "v1", "f2", "v2"}), ":2\r\n");
  EXPECT_EQ(run(ks, {"HSET", "h", "f1", "v3"}), ":0\r\n");
  EXPECT_EQ(run(ks, {"HSET", "h", "f1"}), "-ERR wrong number of arguments for 'hset' command\r\n");
  EXPECT_EQ(run(ks, {"HGET", "h", "f1"}), bulk("v3"));
  EXPECT_EQ(run(ks, {"HLEN", "h"}), ":2\r\n");
  EXPECT_EQ(run(ks, {"HDEL", "h", "f1", "nope"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"HGETALL", "h"}), "*2\r\n" + bulk("f2") + bulk("v2"));

  EXPECT_EQ(run(ks, {"ZADD", "z", "2", "b", "1", "a", "1.5", "c"}), ":3\r\n");
  EXPECT_EQ(run(ks, {"ZADD", "z", "0", "b"}), ":0\r\n");
  EXPECT_EQ(run(ks, {"ZADD", "z", "nan", "b"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(run(ks, {"ZADD", "z", "1"}), "-ERR wrong number of arguments for 'zadd' command\r\n");
  EXPECT_EQ(run(ks, {"ZSCORE", "z", "c"}), bulk("1.5"));
  EXPECT_EQ(run(ks, {"ZRANGE", "z", "0", "-1", "WITHSCORES"}),
            "*6\r\n" + bulk("b") + bulk("0") + bulk("a") + bulk("1") + bulk("c") + bulk("1.5"));
  EXPECT_EQ(run(ks, {"ZPOPMIN", "z"}), "*2\r\n" + bulk("b") + bulk("0"));
  EXPECT_EQ(run(ks, {"ZCARD", "z"}), ":2\r\n");
  EXPECT_EQ(run(ks, {"ZPOPMIN", "z", "10"}), "*4\r\n" + bulk("a") + bulk("1") + bulk("c") + bulk("1.5"));
  EXPECT_EQ(run(ks, {"ZPOPMIN", "z"}), "*0\r\n");
  EXPECT_EQ(run(ks, {"ZADD", "z", "-inf", "lo"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"ZSCORE", "z", "lo"}), bulk("-inf"));
}

TEST(RedisCommands, ServerCommands) {
  Keyspace ks;
  EXPECT_EQ(run(ks, {"PING"}), "+PONG\r\n");
  EXPECT_EQ(run(ks, {"PING", "hi"}), bulk("hi"));
  EXPECT_EQ(run(ks, {"PING", "a", "b"}), "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(run(ks, {"ECHO", "x y"}), bulk("x y"));
  EXPECT_EQ(run(ks, {"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(run(ks, {"SELECT", "1"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(run(ks, {"CONFIG", "GET", "save"}), "*2\r\n" + bulk("save") + bulk(""));
  EXPECT_EQ(run(ks, {"CONFIG", "GET", "appendonly"}), "*2\r\n" + bulk("appendonly") + bulk("no"));
  EXPECT_EQ(run(ks, {"CONFIG", "GET", "nothing-like-this"}), "*0\r\n");
  EXPECT_EQ(run(ks, {"COMMAND", "DOCS"}), "*0\r\n");
  EXPECT_EQ(run(ks, {"COMMAND", "COUNT"}).front(), ':');
  EXPECT_EQ(run(ks, {"HELLO", "3"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(run(ks, {"NOSUCH", "a", "b"}),
            "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(run(ks, {"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  const std::string info = run(ks, {"INFO"});
  EXPECT_NE(info.find("redis_version:"), std::string::npos);
}

// Replies that once differed from redis-server 7.0's (found by redis_differential.py).
TEST(RedisCommands, SameRepliesAsRedis) {
  Keyspace ks;
  const std::string not_int = "-ERR value is not an integer or out of range\r\n";
  const std::string syntax = "-ERR syntax error\r\n";
  // SET: options may repeat; errors come in Redis's order (syntax, expire time, GET's type).
  EXPECT_EQ(run(ks, {"SET", "k", "v", "EX", "10", "EX", "20"}), "+OK\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "v", "nx", "NX", "GET"}), bulk("v"));
  EXPECT_EQ(run(ks, {"SET", "k", "v", "EX", "x", "PX", "1"}), syntax);
  EXPECT_EQ(run(ks, {"SET", "k", "v", "EX", "x"}), not_int);
  EXPECT_EQ(run(ks, {"SET", "k", "v", "EX", "10", "KEEPTTL"}), syntax);
  EXPECT_EQ(run(ks, {"SET", "k", "v", "EXAT", "99999999999"}), "+OK\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "v", "EX", "9223372036854775"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "v", std::string_view("NX\0junk", 7)}), "$-1\r\n");
  run(ks, {"RPUSH", "list", "x"});
  EXPECT_EQ(run(ks, {"SET", "list", "v", "EX", "0", "GET"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run(ks, {"SET", "list", "v", "GET"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  // EXPIRE's NX|XX|GT|LT, checked before the amount; the overflow limit is the wall clock's.
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "100", "NX"}), ":0\r\n");  // k has a TTL from EXAT
  EXPECT_EQ(run(ks, {"PERSIST", "k"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "100", "XX"}), ":0\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "100", "GT"}), ":0\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "100", "LT"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "200", "LT"}), ":0\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "x", "BOGUS\r\n"}), "-ERR Unsupported option BOGUS\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "1", "NX", "GT"}),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "9223372036854775"}),
            "-ERR invalid expire time in 'expire' command\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "07"}), not_int);
  // LINDEX looks the key up before it reads the index.
  EXPECT_EQ(run(ks, {"LINDEX", "missing", "x"}), "$-1\r\n");
  EXPECT_EQ(run(ks, {"LINDEX", "list", "x"}), not_int);
  // Scores as "%.17g"; -0 is 0 in a small sorted set (a listpack), -0 in a large one.
  EXPECT_EQ(run(ks, {"ZADD", "z", "0.1", "a", "-0", "b", "1e-400", "c"}),
            "-ERR value is not a valid float\r\n");
  EXPECT_EQ(run(ks, {"ZADD", "z", "0.1", "a", "-0", "b"}), ":2\r\n");
  EXPECT_EQ(run(ks, {"ZSCORE", "z", "a"}), bulk("0.10000000000000001"));
  EXPECT_EQ(run(ks, {"ZSCORE", "z", "b"}), bulk("0"));
  const std::string long_member(65, 'm');
  EXPECT_EQ(run(ks, {"ZADD", "big", "-0", long_member}), ":1\r\n");
  EXPECT_EQ(run(ks, {"ZSCORE", "big", long_member}), bulk("-0"));
  EXPECT_EQ(run(ks, {"ZRANGE", "z", "0", "-1", "withscores", "WITHSCORES"}),
            "*4\r\n" + bulk("b") + bulk("0") + bulk("a") + bulk("0.10000000000000001"));
  EXPECT_EQ(run(ks, {"ZRANGE", "z", "x", "1", "BOGUS"}), syntax);
  // SELECT, FLUSHDB, unknown commands (printf "%.128s": an argument ends at a NUL).
  EXPECT_EQ(run(ks, {"SELECT", "2147483648"}),
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n");
  EXPECT_EQ(run(ks, {"SELECT", "00"}), not_int);
  EXPECT_EQ(run(ks, {"FLUSHDB", "a", "b"}), syntax);
  EXPECT_EQ(run(ks, {std::string_view("S\0ET", 4), std::string_view("a\0b", 3), "c\r\nd"}),
            "-ERR unknown command 'S', with args beginning with: 'a' 'c  d' \r\n");
  const std::string wide(200, 'w');
  EXPECT_EQ(run(ks, {"NOPE", wide, "more"}),
            "-ERR unknown command 'NOPE', with args beginning with: '" + wide.substr(0, 128) + "' \r\n");
}

TEST(RedisExpiry, TtlLazyAndSweep) {
  Keyspace ks;
  EXPECT_EQ(run(ks, {"SET", "k", "v", "EX", "100"}), "+OK\r\n");
  const std::string ttl = run(ks, {"TTL", "k"});  // ":100" unless this host is very slow
  ASSERT_EQ(ttl.front(), ':');
  EXPECT_GT(std::stoll(ttl.substr(1)), 0);
  EXPECT_LE(std::stoll(ttl.substr(1)), 100);
  EXPECT_EQ(run(ks, {"PERSIST", "k"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"TTL", "k"}), ":-1\r\n");
  EXPECT_EQ(run(ks, {"TTL", "nope"}), ":-2\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "50"}), ":1\r\n");
  EXPECT_EQ(run(ks, {"SET", "k", "v2"}), "+OK\r\n");  // SET clears the TTL
  EXPECT_EQ(run(ks, {"TTL", "k"}), ":-1\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "nope", "5"}), ":0\r\n");
  EXPECT_EQ(run(ks, {"EXPIRE", "k", "-1"}), ":1\r\n");  // in the past: deleted now
  EXPECT_EQ(run(ks, {"EXISTS", "k"}), ":0\r\n");

  // Lazy: a key past its deadline is gone on the next access.
  EXPECT_EQ(run(ks, {"SET", "soon", "v", "PX", "1"}), "+OK\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(run(ks, {"GET", "soon"}), "$-1\r\n");
  EXPECT_EQ(ks.expiring(), 0u);

  // Active: sweep() deletes due keys that nobody touches (a future "now" makes them due).
  for (int i = 0; i < 100; ++i) {
    run(ks, {"SET", numbered("t", i), "v", "EX", "100000"});
  }
  run(ks, {"SET", "forever", "v"});
  EXPECT_EQ(ks.size(), 101u);
  EXPECT_EQ(ks.sweep(now_ms(), 1000), 0u);
  const std::int64_t later = now_ms() + 100'001'000;
  std::size_t swept = ks.sweep(later, 2);  // bounded per shard
  EXPECT_LE(swept, 2 * Keyspace::kShards);
  while (std::size_t n = ks.sweep(later, 2)) swept += n;
  EXPECT_EQ(swept, 100u);
  EXPECT_EQ(ks.size(), 1u);
  EXPECT_EQ(ks.expiring(), 0u);
}
