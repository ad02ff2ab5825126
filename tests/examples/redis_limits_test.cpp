// Unit tests of examples/redis's bounds (no sockets): glob patterns with a bounded cost and
// Redis's exact semantics, sizes as redis.conf writes them, the query buffer limit at the
// parser, --maxmemory with the key space's byte accounting.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "commands.hpp"
#include "config.hpp"
#include "glob.hpp"
#include "keyspace.hpp"

using namespace redis_example;

namespace {

// Redis 7.0's stringmatchlen_impl() (util.c), transcribed: the reference for glob_match's
// results. Exponential on some patterns, so only fed short ones here.
int redis_stringmatch(const char* pattern, int patternLen, const char* string, int stringLen,
                      int nocase, int* skipLongerMatches) {
  auto lower = [](int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; };
  while (patternLen && stringLen) {
    switch (pattern[0]) {
      case '*':
        while (patternLen && pattern[1] == '*') {
          pattern++;
          patternLen--;
        }
        if (patternLen == 1) return 1;
        while (stringLen) {
          if (redis_stringmatch(pattern + 1, patternLen - 1, string, stringLen, nocase,
                                skipLongerMatches)) {
            return 1;
          }
          if (*skipLongerMatches) return 0;
          string++;
          stringLen--;
        }
        *skipLongerMatches = 1;
        return 0;
      case '?':
        string++;
        stringLen--;
        break;
      case '[': {
        int match = 0;
        pattern++;
        patternLen--;
        const int negate = pattern[0] == '^';
        if (negate) {
          pattern++;
          patternLen--;
        }
        while (1) {
          if (pattern[0] == '\\' && patternLen >= 2) {
            pattern++;
            patternLen--;
            if (pattern[0] == string[0]) match = 1;
          } else if (pattern[0] == ']') {
            break;
          } else if (patternLen == 0) {
            pattern--;
            patternLen++;
            break;
          } else if (patternLen >= 3 && pattern[1] == '-') {
            int start = pattern[0], end = pattern[2], c = string[0];
            if (start > end) std::swap(start, end);
            if (nocase) {
              start = lower(start);
              end = lower(end);
              c = lower(c);
            }
            pattern += 2;
            patternLen -= 2;
            if (c >= start && c <= end) match = 1;
          } else if (!nocase ? pattern[0] == string[0]
                             : lower(pattern[0]) == lower(string[0])) {
            match = 1;
          }
          pattern++;
          patternLen--;
        }
        if (negate) match = !match;
        if (!match) return 0;
        string++;
        stringLen--;
        break;
      }
      case '\\':
        if (patternLen >= 2) {
          pattern++;
          patternLen--;
        }
        [[fallthrough]];
      default:
        if (!nocase ? pattern[0] != string[0] : lower(pattern[0]) != lower(string[0])) return 0;
        string++;
        stringLen--;
        break;
    }
    pattern++;
    patternLen--;
    if (stringLen == 0) {
      while (*pattern == '*') {
        pattern++;
        patternLen--;
      }
      break;
    }
  }
  return patternLen == 0 && stringLen == 0;
}

bool reference_match(const std::string& pattern, const std::string& s, bool nocase) {
  int skip = 0;  // std::string keeps the NUL after its bytes that Redis's code reads
  return redis_stringmatch(pattern.c_str(), static_cast<int>(pattern.size()), s.c_str(),
                           static_cast<int>(s.size()), nocase ? 1 : 0, &skip) != 0;
}

// Strings are built by appending only: GCC 12's -Wrestrict misfires on
// `"literal" + std::to_string(...)` at -O2.
template <class Args>
std::string encode(const Args& args) {
  std::string s;
  s += '*';
  s += std::to_string(args.size());
  s += "\r\n";
  for (std::string_view a : args) {
    s += '$';
    s += std::to_string(a.size());
    s += "\r\n";
    s += a;
    s += "\r\n";
  }
  return s;
}

std::string cmd(std::initializer_list<std::string_view> args) { return encode(args); }

std::string run(Keyspace& ks, const Config& config, std::initializer_list<std::string_view> args) {
  Session session(config);
  std::string out;
  const std::string in = cmd(args);
  const Progress p = process(ks, session, in, out);
  EXPECT_EQ(p.consumed, in.size());
  return out;
}

}  // namespace

TEST(RedisGlob, SameResultsAsRedisStringmatch) {
  // Every corner of the syntax, against Redis's own algorithm on random short inputs.
  const std::string pattern_bytes = "ab*?[]^-\\\xe9\x00";
  const std::string string_bytes = "abc]^-\\\xe9\x00";
  std::mt19937 rng(12);
  for (int round = 0; round < 200000; ++round) {
    std::string pattern, s;
    for (int n = static_cast<int>(rng() % 9); n > 0; --n) {
      pattern += pattern_bytes[rng() % pattern_bytes.size()];
    }
    for (int n = static_cast<int>(rng() % 7); n > 0; --n) {
      s += string_bytes[rng() % string_bytes.size()];
    }
    const bool nocase = rng() % 4 == 0;
    ASSERT_EQ(glob_match(pattern, s, nocase), reference_match(pattern, s, nocase))
        << "pattern '" << pattern << "' string '" << s << "' nocase " << nocase;
  }
}

TEST(RedisGlob, Examples) {
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_TRUE(glob_match("h*llo", "heeeello"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(glob_match("h[b-a]llo", "hbllo"));  // a reversed range is swapped
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axb"));
  EXPECT_TRUE(glob_match("k[abc", "kc"));  // an unterminated class runs to the end
  EXPECT_FALSE(glob_match("*", ""));       // Redis: the empty string matches only ""
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_TRUE(glob_match("CONFIG-*", "config-get", /*nocase=*/true));
}

// The pattern behind CVE-2022-36021: exponential for a recursive matcher, O(pattern × string)
// here. A hang would trip the test's timeout; the result must still be right.
TEST(RedisGlob, ManyStarsCostLinearPerStar) {
  const std::string long_a(100000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", long_a));
  EXPECT_TRUE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", long_a));
  std::string stars;
  for (int i = 0; i < 2000; ++i) stars += "*a";
  EXPECT_FALSE(glob_match(stars + "b", long_a));
  EXPECT_TRUE(glob_match(stars, long_a));
}

TEST(RedisConfig, MemorySizes) {
  EXPECT_EQ(parse_memory_size("0"), 0u);
  EXPECT_EQ(parse_memory_size("1000"), 1000u);
  EXPECT_EQ(parse_memory_size("1k"), 1000u);
  EXPECT_EQ(parse_memory_size("1kb"), 1024u);
  EXPECT_EQ(parse_memory_size("64MB"), 64u * 1024 * 1024);
  EXPECT_EQ(parse_memory_size("2g"), 2000000000u);
  EXPECT_EQ(parse_memory_size("1gb"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_memory_size("5b"), 5u);
  EXPECT_FALSE(parse_memory_size(""));
  EXPECT_FALSE(parse_memory_size("mb"));
  EXPECT_FALSE(parse_memory_size("-1"));
  EXPECT_FALSE(parse_memory_size("1 mb"));
  EXPECT_FALSE(parse_memory_size("1tb"));
  EXPECT_FALSE(parse_memory_size("18446744073709551616"));
  EXPECT_FALSE(parse_memory_size("18446744073709551615gb"));
}

TEST(RedisLimits, QueryBufferLimitCountsFramingAtTheBulkLine) {
  Config config;
  config.limits.max_command_bytes = 1000;
  Keyspace ks;
  // "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n" is 20 bytes, "$972\r\n" 6 and the data's CRLF 2: 972 fits.
  const std::string fits(972, 'v');
  ASSERT_EQ(cmd({"SET", "k", fits}).size(), 1000u);
  EXPECT_EQ(run(ks, config, {"SET", "k", fits}), "+OK\r\n");
  Session session(config);
  std::string out;
  // One byte more is refused at the "$" line, before any of its data arrives.
  const Progress p = process(ks, session, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$973\r\n", out);
  EXPECT_TRUE(p.close);
  EXPECT_EQ(out, "-ERR Protocol error: command too large\r\n");
}

TEST(RedisLimits, AppendStopsAtProtoMaxBulkLen) {
  Config config;
  config.limits.max_bulk_bytes = 10;
  Keyspace ks;
  EXPECT_EQ(run(ks, config, {"APPEND", "s", "0123456789"}), ":10\r\n");
  EXPECT_EQ(run(ks, config, {"APPEND", "s", "x"}),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
  EXPECT_EQ(run(ks, config, {"STRLEN", "s"}), ":10\r\n");
}

TEST(RedisLimits, MaxmemoryRefusesWritesPastTheLimit) {
  Config config;
  config.maxmemory = 64 * 1024;
  Keyspace ks;
  const std::string value(1000, 'x');
  int stored = 0;
  const std::string oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
  for (int i = 0; i < 1000; ++i) {
    std::string key = "k";
    key += std::to_string(i);
    const std::string reply = run(ks, config, {"SET", key, value});
    if (reply == oom) break;
    ASSERT_EQ(reply, "+OK\r\n");
    ++stored;
  }
  // Writes stop once the accounted bytes pass the limit: one command past it at most.
  EXPECT_GT(stored, 30);
  EXPECT_LT(stored, 64);
  EXPECT_GT(ks.used_bytes(), config.maxmemory);
  EXPECT_LT(ks.used_bytes(), config.maxmemory + value.size() + 1024);
  // Every command that can grow the key space is refused; reads and deletes still run; arity
  // is checked first, as in Redis.
  for (auto args : std::vector<std::vector<std::string>>{
           {"SET", "k0", "v"}, {"APPEND", "k0", "v"}, {"INCR", "n"}, {"DECRBY", "n", "1"},
           {"MSET", "a", "1"}, {"LPUSH", "l", "v"}, {"SADD", "s", "m"}, {"HSET", "h", "f", "v"},
           {"ZADD", "z", "1", "m"}}) {
    Session session(config);
    std::string out;
    process(ks, session, encode(args), out);
    EXPECT_EQ(out, oom) << args[0];
  }
  EXPECT_EQ(run(ks, config, {"SET", "k0"}), "-ERR wrong number of arguments for 'set' command\r\n");
  EXPECT_EQ(run(ks, config, {"GET", "k0"}), "$1000\r\n" + value + "\r\n");
  EXPECT_EQ(run(ks, config, {"DEL", "k0", "k1", "k2"}), ":3\r\n");
  EXPECT_EQ(run(ks, config, {"SET", "again", "v"}), "+OK\r\n");
}

// The accounting follows every command that changes a value and returns to zero when the key
// space is empty again, whichever way the keys went (DEL, pops, expiry, FLUSHDB).
TEST(RedisLimits, AccountingReturnsToZero) {
  const Config config;
  Keyspace ks;
  EXPECT_EQ(ks.used_bytes(), 0u);
  run(ks, config, {"SET", "s", "hello"});
  run(ks, config, {"SET", "s", "a much longer value than before"});
  run(ks, config, {"APPEND", "s", "!!"});
  run(ks, config, {"INCR", "n"});
  run(ks, config, {"INCRBY", "n", "123456789"});
  run(ks, config, {"MSET", "m1", "1", "m2", "22"});
  run(ks, config, {"RPUSH", "l", "a", "bb", "ccc"});
  run(ks, config, {"LPOP", "l"});
  run(ks, config, {"SADD", "set", "x", "y", "z"});
  run(ks, config, {"SREM", "set", "y"});
  run(ks, config, {"SPOP", "set"});
  run(ks, config, {"HSET", "h", "f", "v", "g", "w"});
  run(ks, config, {"HSET", "h", "f", "a longer value"});
  run(ks, config, {"HDEL", "h", "g"});
  run(ks, config, {"ZADD", "z", "1", "a", "2", "b"});
  run(ks, config, {"ZADD", "z", "3", "a"});
  run(ks, config, {"ZPOPMIN", "z"});
  run(ks, config, {"SET", "e", "v", "PX", "1"});
  const std::size_t data = 5 + 33 + 9 + 2 + 3 + 1 + 2 + 2 + 3;  // a rough floor
  EXPECT_GT(ks.used_bytes(), data);
  EXPECT_EQ(run(ks, config, {"DEL", "s", "n", "m1", "m2", "h"}), ":5\r\n");
  EXPECT_EQ(run(ks, config, {"RPOP", "l", "5"}).substr(0, 4), "*2\r\n");
  EXPECT_EQ(run(ks, config, {"SPOP", "set", "5"}).substr(0, 4), "*1\r\n");
  EXPECT_EQ(run(ks, config, {"ZPOPMIN", "z", "5"}).substr(0, 4), "*2\r\n");
  ks.sweep(now_ms() + 1000, 100);
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_EQ(ks.used_bytes(), 0u);
  run(ks, config, {"SET", "x", "1"});
  run(ks, config, {"FLUSHALL"});
  EXPECT_EQ(ks.used_bytes(), 0u);
}
