// examples/redis/commands.hpp — command execution against the key space (no sockets).
//
// Supported (case-insensitive), with redis-server 7.0's reply bytes and error messages (the
// differential test tests/examples/redis_differential.py compares them):
//   connection  PING [msg], ECHO msg, QUIT, SELECT 0, COMMAND [COUNT|DOCS|INFO|LIST],
//               CONFIG GET pattern..., CONFIG SET (refused), CONFIG RESETSTAT, INFO, HELLO (-ERR)
//   keys        DEL, EXISTS, TYPE, EXPIRE, PEXPIRE (both with NX|XX|GT|LT), TTL, PTTL, PERSIST,
//               KEYS, DBSIZE, FLUSHDB, FLUSHALL
//   strings     SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], GET, INCR, DECR, INCRBY,
//               DECRBY, MGET, MSET, APPEND, STRLEN
//   lists       LPUSH, RPUSH, LPOP [count], RPOP [count], LRANGE, LLEN, LINDEX
//   sets        SADD, SREM, SPOP [count], SCARD, SISMEMBER, SMEMBERS
//   hashes      HSET, HGET, HDEL, HLEN, HGETALL
//   sorted sets ZADD key score member..., ZPOPMIN [count], ZCARD, ZSCORE, ZRANGE [WITHSCORES]
// (The set/hash/sorted-set subset is what redis-benchmark's default run needs.)
#pragma once

#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "keyspace.hpp"
#include "resp.hpp"

namespace redis_example {

struct CommandOutcome {
  bool close = false;  // QUIT: close after the reply
};

// Runs one command (args[0] is its name; args must not be empty), appending the reply to out.
// `now` is the steady clock in milliseconds (now_ms()), read once per batch of commands.
CommandOutcome execute(Keyspace& ks, const Config& config, std::span<const std::string_view> args,
                       std::string& out, std::int64_t now);

// One connection's protocol state. `config` must outlive it.
struct Session {
  explicit Session(const Config& config) : config(&config), parser(config.limits) {}
  const Config* config;
  RespParser parser;
  std::vector<std::string_view> args;
};

inline constexpr std::size_t kNoReplyBudget = std::numeric_limits<std::size_t>::max();

struct Progress {
  std::size_t consumed = 0;     // bytes of `in` to discard
  bool close = false;           // close the connection once `out` is written
  bool budget_reached = false;  // stopped because out reached the budget; input may remain
};

// Runs the complete commands at the start of `in` (the connection's unconsumed input), in
// order, appending their replies to `out`; the caller writes them with one write
// (pipelining). It stops after the command whose reply brings out.size() to reply_budget or
// past it, so `out` ends at most one reply past the budget (and always holds at least one
// reply when a complete command was there); the commands after it stay unconsumed. A partial
// command at the end stays unconsumed. A protocol error appends "-ERR Protocol error: ...",
// consumes everything and sets close; so does QUIT (after +OK). `now` (steady milliseconds) is
// the time all the batch's commands see: the server passes its loop's turn time
// (gnet::Loop::now()), so a batch costs no clock read.
Progress process(Keyspace& ks, Session& session, std::string_view in, std::string& out,
                 std::size_t reply_budget = kNoReplyBudget, std::int64_t now = now_ms());

}  // namespace redis_example
