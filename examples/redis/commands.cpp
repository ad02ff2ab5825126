// examples/redis/commands.cpp — see commands.hpp.
#include "commands.hpp"

#include <algorithm>
#include <climits>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <charconv>
#include <random>
#include <unordered_map>

#include "glob.hpp"
#include "name_table.hpp"
#include "resp.hpp"

namespace redis_example {
namespace {

using Args = std::span<const std::string_view>;

constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kNotFloat = "ERR value is not a valid float";
constexpr std::string_view kSyntax = "ERR syntax error";
constexpr std::string_view kNotPositive = "ERR value is out of range, must be positive";
constexpr std::string_view kVersion = "7.0.0";
// redis.conf's zset-max-listpack-entries and zset-max-listpack-value (see ZSet::compact).
constexpr std::size_t kZsetCompactMaxMembers = 128;
constexpr std::size_t kZsetCompactMaxBytes = 64;

struct Ctx {
  Keyspace& ks;
  const Config& config;
  Args args;
  std::string& out;
  std::int64_t now;
  CommandOutcome outcome;
};

using Handler = void (*)(Ctx&);
struct Spec {
  Handler fn;
  int arity;  // > 0: exactly; < 0: at least -arity (the name included), as in Redis
  bool denyoom = false;  // may grow the key space: refused past maxmemory (Redis's flag)
};

bool is_c_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool ieq(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Redis compares options with strcasecmp() on C strings: the argument ends at its first NUL.
bool opt_is(std::string_view arg, std::string_view name) noexcept {
  return ieq(arg.substr(0, arg.find('\0')), name);
}

// Redis checks expire times for overflow against the wall clock (its deadlines are Unix
// milliseconds); ours run on the steady clock, but the limits must be the same.
long long wall_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return r;
}

void arity_error(Ctx& c) {
  reply_error(c.out, "ERR wrong number of arguments for '" + lower(c.args[0]) + "' command");
}

// Locks the shard of one key for the rest of the scope.
struct Locked {
  Shard& shard;
  std::unique_lock<std::mutex> lock;
  HashedKey key;  // hashed once: picked the shard, and finds the key in it
};
Locked lock_key(Keyspace& ks, const HashedKey& key) {
  Shard& s = ks.shard(key);
  return Locked{s, std::unique_lock<std::mutex>(s.mutex), key};
}

// Looks key up expecting a T. Returns false (after replying WRONGTYPE) when the key holds
// another type; `value` is nullptr when the key is missing. `entry` (if given) receives the
// entry, for the byte accounting of commands that change the value.
template <class T>
bool lookup(Ctx& c, Shard& s, const HashedKey& key, T*& value, Entry** entry = nullptr) {
  Entry* e = s.find(key, c.now);
  if (entry != nullptr) *entry = e;
  value = nullptr;
  if (e == nullptr) return true;
  value = std::get_if<T>(&e->value);
  if (value == nullptr) {
    reply_error(c.out, kWrongType);
    return false;
  }
  return true;
}

// Like lookup, but creates an empty T when the key is missing.
template <class T>
T* lookup_or_create(Ctx& c, Shard& s, const HashedKey& key, Entry*& entry) {
  auto [e, created] = s.find_or_create<T>(key, c.now);
  entry = e;
  T* value = std::get_if<T>(&e->value);
  if (value == nullptr) reply_error(c.out, kWrongType);
  return value;
}

// Redis's string2d(): strtod() over the whole argument, no leading space, no NaN, and an
// overflow (+-1e400) or an underflow to zero (1e-400) is not a number.
bool parse_double(std::string_view s, double& out) {
  if (s.empty() || s.size() > 256 || is_c_space(s.front())) return false;
  char buf[257];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  out = std::strtod(buf, &end);
  if (end != buf + s.size() || std::isnan(out)) return false;
  return !(errno == ERANGE && (std::isinf(out) || out == 0));
}

// Redis-style index range: negative counts from the end; clamps; false when empty.
bool normalize_range(long long& start, long long& stop, long long len) {
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return false;
  if (stop >= len) stop = len - 1;
  return true;
}


std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

// ---------------------------------------------------------------- connection / server

void cmd_ping(Ctx& c) {
  if (c.args.size() > 2) return arity_error(c);
  if (c.args.size() == 2) return reply_bulk(c.out, c.args[1]);
  reply_status(c.out, "PONG");
}

void cmd_echo(Ctx& c) { reply_bulk(c.out, c.args[1]); }

void cmd_quit(Ctx& c) {
  reply_ok(c.out);
  c.outcome.close = true;
}

void cmd_select(Ctx& c) {
  long long db = 0;
  if (!parse_int(c.args[1], db)) return reply_error(c.out, kNotInteger);
  if (db < INT_MIN || db > INT_MAX) {
    return reply_error(c.out, "ERR value is out of range, value must between -2147483648 and 2147483647");
  }
  if (db != 0) return reply_error(c.out, "ERR DB index is out of range");  // one database
  reply_ok(c.out);
}

void cmd_hello(Ctx& c) {
  if (c.args.size() >= 2) {
    long long ver = 0;
    if (!parse_int(c.args[1], ver)) {
      return reply_error(c.out, "ERR Protocol version is not an integer or out of range");
    }
    if (ver != 2) return reply_error(c.out, "NOPROTO unsupported protocol version");
    if (c.args.size() > 2) return reply_error(c.out, kSyntax);  // no AUTH/SETNAME here
  }
  reply_array(c.out, 14);
  reply_bulk(c.out, "server");
  reply_bulk(c.out, "redis");
  reply_bulk(c.out, "version");
  reply_bulk(c.out, kVersion);
  reply_bulk(c.out, "proto");
  reply_int(c.out, 2);
  reply_bulk(c.out, "id");
  reply_int(c.out, 1);
  reply_bulk(c.out, "mode");
  reply_bulk(c.out, "standalone");
  reply_bulk(c.out, "role");
  reply_bulk(c.out, "master");
  reply_bulk(c.out, "modules");
  reply_array(c.out, 0);
}

// The command table: names in lower case, looked up case-insensitively without a copy or a
// hash (name_table.hpp).
using CommandTable = NameTable<Spec>;
const CommandTable& command_table();

void cmd_command(Ctx& c) {
  const auto& table = command_table();
  if (c.args.size() == 1) return reply_array(c.out, 0);  // no per-command metadata here
  const std::string sub = lower(c.args[1]);
  if (sub == "count") return reply_int(c.out, static_cast<long long>(table.size()));
  if (sub == "docs") return reply_array(c.out, 0);  // redis-cli falls back to its own help
  if (sub == "list") {
    std::vector<std::string_view> names;
    for (const auto& command : table.entries()) names.push_back(command.name);
    std::sort(names.begin(), names.end());
    reply_array(c.out, names.size());
    for (auto n : names) reply_bulk(c.out, n);
    return;
  }
  if (sub == "info") {
    reply_array(c.out, c.args.size() - 2);
    for (std::size_t i = 2; i < c.args.size(); ++i) {
      const auto* command = table.find(c.args[i]);
      if (command == nullptr) {
        reply_null_array(c.out);
        continue;
      }
      // name, arity, flags, first key, last key, step
      reply_array(c.out, 6);
      reply_bulk(c.out, command->name);
      reply_int(c.out, command->value.arity);
      reply_array(c.out, 0);
      reply_int(c.out, 0);
      reply_int(c.out, 0);
      reply_int(c.out, 0);
    }
    return;
  }
  reply_error(c.out, "ERR unknown subcommand '" + std::string(c.args[1]) + "'. Try COMMAND HELP.");
}

void cmd_config(Ctx& c) {
  const std::string sub = lower(c.args[1]);
  if (sub == "get") {
    if (c.args.size() < 3) return arity_error(c);
    const std::pair<const char*, std::string> kParams[] = {
        {"appendonly", "no"},
        {"save", ""},
        {"databases", "1"},
        {"maxmemory", std::to_string(c.config.maxmemory)},
        {"maxmemory-policy", "noeviction"},
        {"timeout", std::to_string(c.config.timeout_seconds)},
        {"maxclients", "10000"},
        {"proto-max-bulk-len", std::to_string(c.config.limits.max_bulk_bytes)},
        {"client-query-buffer-limit", std::to_string(c.config.limits.max_command_bytes)},
    };
    std::vector<const std::pair<const char*, std::string>*> hits;
    for (const auto& p : kParams) {
      for (std::size_t i = 2; i < c.args.size(); ++i) {
        if (glob_match(c.args[i], p.first, /*nocase=*/true)) {
          hits.push_back(&p);
          break;
        }
      }
    }
    reply_array(c.out, hits.size() * 2);
    for (const auto* p : hits) {
      reply_bulk(c.out, p->first);
      reply_bulk(c.out, p->second);
    }
    return;
  }
  if (sub == "set") return reply_error(c.out, "ERR CONFIG SET is not supported by this server");
  if (sub == "resetstat") return reply_ok(c.out);
  reply_error(c.out, "ERR unknown subcommand '" + std::string(c.args[1]) + "'. Try CONFIG HELP.");
}

void cmd_info(Ctx& c) {
  const std::size_t keys = c.ks.size();
  const std::size_t expires = c.ks.expiring();
  std::string s;
  s += "# Server\r\nredis_version:";
  s += kVersion;
  s += "\r\nredis_mode:standalone\r\nserver_name:gnet-cpp redis example\r\n\r\n";
  s += "# Keyspace\r\n";
  if (keys > 0) {
    s += "db0:keys=" + std::to_string(keys) + ",expires=" + std::to_string(expires) +
         ",avg_ttl=0\r\n";
  }
  reply_bulk(c.out, s);
}

void cmd_dbsize(Ctx& c) { reply_int(c.out, static_cast<long long>(c.ks.size())); }

void cmd_flush(Ctx& c) {
  if (c.args.size() > 2 ||
      (c.args.size() == 2 && !opt_is(c.args[1], "async") && !opt_is(c.args[1], "sync"))) {
    return reply_error(c.out, kSyntax);
  }
  c.ks.clear();
  reply_ok(c.out);
}

// ---------------------------------------------------------------- keys

void cmd_del(Ctx& c) {
  Keyspace::MultiLock lock(c.ks, c.args, 1, 1);
  long long n = 0;
  for (const HashedKey k : c.args.subspan(1)) {
    Shard& s = c.ks.shard(k);
    if (s.find(k, c.now) != nullptr && s.erase(k)) ++n;
  }
  reply_int(c.out, n);
}

void cmd_exists(Ctx& c) {
  Keyspace::MultiLock lock(c.ks, c.args, 1, 1);
  long long n = 0;
  for (const HashedKey k : c.args.subspan(1)) {
    if (c.ks.shard(k).find(k, c.now) != nullptr) ++n;
  }
  reply_int(c.out, n);
}

void cmd_type(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  const Entry* e = l.shard.find(l.key, c.now);
  if (e == nullptr) return reply_status(c.out, "none");
  static constexpr std::string_view kNames[] = {"string", "list", "set", "hash", "zset"};
  reply_status(c.out, kNames[e->value.index()]);
}

void invalid_expire_time(Ctx& c, std::string_view command) {
  reply_error(c.out, "ERR invalid expire time in '" + std::string(command) + "' command");
}

// EXPIRE/PEXPIRE key amount [NX|XX|GT|LT], checked in Redis's order: options, the amount, its
// overflow (against the wall clock, as Redis), then the key.
void expire_generic(Ctx& c, long long unit_ms, std::string_view name) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (std::size_t i = 3; i < c.args.size(); ++i) {
    const std::string_view a = c.args[i];
    if (opt_is(a, "nx")) {
      nx = true;
    } else if (opt_is(a, "xx")) {
      xx = true;
    } else if (opt_is(a, "gt")) {
      gt = true;
    } else if (opt_is(a, "lt")) {
      lt = true;
    } else {
      // addReplyErrorFormat() trims CR/LF off the end of the message.
      std::string_view opt = a.substr(0, a.find('\0'));
      while (!opt.empty() && (opt.back() == '\r' || opt.back() == '\n')) opt.remove_suffix(1);
      return reply_error(c.out, "ERR Unsupported option " + std::string(opt));
    }
  }
  if (nx && (xx || gt || lt)) {
    return reply_error(c.out, "ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) return reply_error(c.out, "ERR GT and LT options at the same time are not compatible");
  long long when = 0;  // milliseconds from now
  if (!parse_int(c.args[2], when)) return reply_error(c.out, kNotInteger);
  if (unit_ms == 1000) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) return invalid_expire_time(c, name);
    when *= 1000;
  }
  if (when > LLONG_MAX - wall_ms()) return invalid_expire_time(c, name);
  auto l = lock_key(c.ks, c.args[1]);
  Entry* e = l.shard.find(l.key, c.now);
  if (e == nullptr) return reply_int(c.out, 0);
  const bool has_ttl = e->expire_at != 0;
  const long long current = e->expire_at - c.now;  // when has_ttl
  if ((nx && has_ttl) || (xx && !has_ttl) || (gt && (!has_ttl || when <= current)) ||
      (lt && has_ttl && when >= current)) {
    return reply_int(c.out, 0);
  }
  if (when <= 0) {
    l.shard.erase(l.key);  // a deadline in the past deletes the key, as in Redis
  } else {
    l.shard.set_expiry(c.args[1], *e, c.now + when);
  }
  reply_int(c.out, 1);
}

void cmd_expire(Ctx& c) { expire_generic(c, 1000, "expire"); }
void cmd_pexpire(Ctx& c) { expire_generic(c, 1, "pexpire"); }

void ttl_generic(Ctx& c, bool millis) {
  auto l = lock_key(c.ks, c.args[1]);
  const Entry* e = l.shard.find(l.key, c.now);
  if (e == nullptr) return reply_int(c.out, -2);
  if (e->expire_at == 0) return reply_int(c.out, -1);
  const long long left = e->expire_at - c.now;
  reply_int(c.out, millis ? left : (left + 500) / 1000);
}

void cmd_ttl(Ctx& c) { ttl_generic(c, false); }
void cmd_pttl(Ctx& c) { ttl_generic(c, true); }

void cmd_persist(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Entry* e = l.shard.find(l.key, c.now);
  if (e == nullptr || e->expire_at == 0) return reply_int(c.out, 0);
  l.shard.set_expiry(c.args[1], *e, 0);
  reply_int(c.out, 1);
}

// KEYS pattern: one reply with every live key that matches. The match is glob_match() (Redis's
// syntax at O(pattern × key) per key); "*" matches every key, the empty one too, as in Redis.
void cmd_keys(Ctx& c) {
  const std::string_view pattern = c.args[1];
  const bool all = pattern == "*";
  std::string found;  // the matching keys, already encoded as bulk strings
  std::size_t count = 0;
  for (std::size_t i = 0; i < Keyspace::kShards; ++i) {
    Shard& s = c.ks.shard_at(i);
    std::lock_guard lock(s.mutex);
    s.for_each_key(c.now, [&](const std::string& key) {
      if (all || glob_match(pattern, key)) {
        reply_bulk(found, key);
        ++count;
      }
    });
  }
  reply_array(c.out, count);
  c.out += found;
}

// ---------------------------------------------------------------- strings

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL], with Redis's
// exact option grammar (an option may repeat; EX/PX/EXAT/PXAT/KEEPTTL exclude each other) and
// its order of errors: syntax, then the expire time, then GET's type check.
void cmd_set(Ctx& c) {
  bool nx = false, xx = false, get = false, keep_ttl = false;
  enum class Unit { none, ex, px, exat, pxat } unit = Unit::none;
  std::string_view expire;
  const std::size_t n = c.args.size();
  for (std::size_t i = 3; i < n; ++i) {
    const std::string_view a = c.args[i];
    const bool has_next = i + 1 < n;
    auto expiry_option = [&](Unit u) {
      if (keep_ttl || (unit != Unit::none && unit != u) || !has_next) return false;
      unit = u;
      expire = c.args[++i];
      return true;
    };
    if (opt_is(a, "nx") && !xx) {
      nx = true;
    } else if (opt_is(a, "xx") && !nx) {
      xx = true;
    } else if (opt_is(a, "get")) {
      get = true;
    } else if (opt_is(a, "keepttl") && unit == Unit::none) {
      keep_ttl = true;
    } else if (!((opt_is(a, "ex") && expiry_option(Unit::ex)) ||
                 (opt_is(a, "px") && expiry_option(Unit::px)) ||
                 (opt_is(a, "exat") && expiry_option(Unit::exat)) ||
                 (opt_is(a, "pxat") && expiry_option(Unit::pxat)))) {
      return reply_error(c.out, kSyntax);
    }
  }
  std::int64_t deadline = 0;
  if (unit != Unit::none) {
    long long ms = 0;
    if (!parse_int(expire, ms)) return reply_error(c.out, kNotInteger);
    const bool seconds = unit == Unit::ex || unit == Unit::exat;
    if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) return invalid_expire_time(c, "set");
    if (seconds) ms *= 1000;
    const long long wall = wall_ms();
    if (unit == Unit::ex || unit == Unit::px) {  // relative: Redis adds its clock, overflow-checked
      if (ms > LLONG_MAX - wall) return invalid_expire_time(c, "set");
      ms += wall;
    }
    // Unix milliseconds to the steady clock; a past deadline still needs a non-zero value.
    deadline = std::max<std::int64_t>(1, c.now + (ms - wall));
  }
  const std::string_view key = c.args[1];
  auto l = lock_key(c.ks, key);
  Entry* e = l.shard.find(l.key, c.now);
  if (get) {
    if (e == nullptr) {
      reply_null(c.out);
    } else if (const auto* old = std::get_if<std::string>(&e->value)) {
      reply_bulk(c.out, *old);
    } else {
      return reply_error(c.out, kWrongType);
    }
  }
  if ((nx && e != nullptr) || (xx && e == nullptr)) {
    if (!get) reply_null(c.out);
    return;
  }
  Entry& entry = l.shard.set_string(e, key, c.args[2], keep_ttl);  // e: no second lookup
  if (unit != Unit::none) l.shard.set_expiry(key, entry, deadline);
  if (!get) reply_ok(c.out);
}

void cmd_get(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  std::string* v = nullptr;
  if (!lookup(c, l.shard, l.key, v)) return;
  if (v == nullptr) return reply_null(c.out);
  reply_bulk(c.out, *v);
}

void incr_by(Ctx& c, long long delta) {
  const std::string_view key = c.args[1];
  auto l = lock_key(c.ks, key);
  std::string* v = nullptr;
  Entry* e = nullptr;
  if (!lookup(c, l.shard, l.key, v, &e)) return;
  long long current = 0;
  if (v != nullptr && !parse_int(*v, current)) return reply_error(c.out, kNotInteger);
  long long result = 0;
  if (__builtin_add_overflow(current, delta, &result)) {
    return reply_error(c.out, "ERR increment or decrement would overflow");
  }
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, result).ptr;
  l.shard.set_string(e, key, std::string_view(digits, static_cast<std::size_t>(end - digits)),
                     /*keep_ttl=*/true);  // INCR keeps the key's TTL, as Redis does
  reply_int(c.out, result);
}

void cmd_incr(Ctx& c) { incr_by(c, 1); }
void cmd_decr(Ctx& c) { incr_by(c, -1); }
void cmd_incrby(Ctx& c) {
  long long d = 0;
  if (!parse_int(c.args[2], d)) return reply_error(c.out, kNotInteger);
  incr_by(c, d);
}
void cmd_decrby(Ctx& c) {
  long long d = 0;
  if (!parse_int(c.args[2], d)) return reply_error(c.out, kNotInteger);
  if (d == LLONG_MIN) return reply_error(c.out, "ERR decrement would overflow");
  incr_by(c, -d);
}

void cmd_mget(Ctx& c) {
  Keyspace::MultiLock lock(c.ks, c.args, 1, 1);
  reply_array(c.out, c.args.size() - 1);
  for (const HashedKey k : c.args.subspan(1)) {
    const Entry* e = c.ks.shard(k).find(k, c.now);
    const std::string* v = e ? std::get_if<std::string>(&e->value) : nullptr;
    if (v == nullptr) {
      reply_null(c.out);
    } else {
      reply_bulk(c.out, *v);
    }
  }
}

void cmd_mset(Ctx& c) {
  if (c.args.size() % 2 == 0) return arity_error(c);
  Keyspace::MultiLock lock(c.ks, c.args, 1, 2);
  for (std::size_t i = 1; i + 1 < c.args.size(); i += 2) {
    const HashedKey k(c.args[i]);
    c.ks.shard(k).set_string(k, c.args[i + 1], c.now);
  }
  reply_ok(c.out);
}

void cmd_append(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Entry* e = l.shard.find(l.key, c.now);
  std::string* v = e != nullptr ? std::get_if<std::string>(&e->value) : nullptr;
  if (e != nullptr && v == nullptr) return reply_error(c.out, kWrongType);
  // Strings never grow past proto-max-bulk-len, as in Redis (a bound on one value).
  if (v != nullptr && v->size() + c.args[2].size() > c.config.limits.max_bulk_bytes) {
    return reply_error(c.out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  }
  if (v == nullptr) v = lookup_or_create<std::string>(c, l.shard, l.key, e);
  v->append(c.args[2]);
  l.shard.charge(*e, static_cast<std::ptrdiff_t>(c.args[2].size()));
  reply_int(c.out, static_cast<long long>(v->size()));
}

void cmd_strlen(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  std::string* v = nullptr;
  if (!lookup(c, l.shard, l.key, v)) return;
  reply_int(c.out, v ? static_cast<long long>(v->size()) : 0);
}

// ---------------------------------------------------------------- lists

void push_generic(Ctx& c, bool left) {
  auto l = lock_key(c.ks, c.args[1]);
  Entry* e = nullptr;
  List* list = lookup_or_create<List>(c, l.shard, l.key, e);
  if (list == nullptr) return;
  std::size_t added = 0;
  for (std::size_t i = 2; i < c.args.size(); ++i) {
    if (left) {
      list->emplace_front(c.args[i]);
    } else {
      list->emplace_back(c.args[i]);
    }
    added += element_bytes(c.args[i]);
  }
  l.shard.charge(*e, static_cast<std::ptrdiff_t>(added));
  reply_int(c.out, static_cast<long long>(list->size()));
}

void cmd_lpush(Ctx& c) { push_generic(c, true); }
void cmd_rpush(Ctx& c) { push_generic(c, false); }

void pop_generic(Ctx& c, bool left) {
  if (c.args.size() > 3) return arity_error(c);
  const bool has_count = c.args.size() == 3;
  long long count = 1;
  if (has_count && (!parse_int(c.args[2], count) || count < 0)) {
    return reply_error(c.out, kNotPositive);
  }
  auto l = lock_key(c.ks, c.args[1]);
  List* list = nullptr;
  Entry* e = nullptr;
  if (!lookup(c, l.shard, l.key, list, &e)) return;
  if (list == nullptr) return has_count ? reply_null_array(c.out) : reply_null(c.out);
  auto pop_one = [&] {
    const std::string& v = left ? list->front() : list->back();
    reply_bulk(c.out, v);
    l.shard.charge(*e, -static_cast<std::ptrdiff_t>(element_bytes(v)));
    if (left) {
      list->pop_front();
    } else {
      list->pop_back();
    }
  };
  if (!has_count) {
    pop_one();
  } else {
    const auto n = std::min<std::size_t>(static_cast<std::size_t>(count), list->size());
    reply_array(c.out, n);
    for (std::size_t i = 0; i < n; ++i) pop_one();
  }
  if (list->empty()) l.shard.erase(l.key);
}

void cmd_lpop(Ctx& c) { pop_generic(c, true); }
void cmd_rpop(Ctx& c) { pop_generic(c, false); }

void cmd_lrange(Ctx& c) {
  long long start = 0, stop = 0;
  if (!parse_int(c.args[2], start) || !parse_int(c.args[3], stop)) {
    return reply_error(c.out, kNotInteger);
  }
  auto l = lock_key(c.ks, c.args[1]);
  List* list = nullptr;
  if (!lookup(c, l.shard, l.key, list)) return;
  if (list == nullptr ||
      !normalize_range(start, stop, static_cast<long long>(list->size()))) {
    return reply_array(c.out, 0);
  }
  reply_array(c.out, static_cast<std::size_t>(stop - start + 1));
  for (long long i = start; i <= stop; ++i) reply_bulk(c.out, (*list)[static_cast<std::size_t>(i)]);
}

void cmd_llen(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  List* list = nullptr;
  if (!lookup(c, l.shard, l.key, list)) return;
  reply_int(c.out, list ? static_cast<long long>(list->size()) : 0);
}

void cmd_lindex(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  List* list = nullptr;
  if (!lookup(c, l.shard, l.key, list)) return;
  if (list == nullptr) return reply_null(c.out);  // Redis looks the key up before the index
  long long index = 0;
  if (!parse_int(c.args[2], index)) return reply_error(c.out, kNotInteger);
  const auto len = static_cast<long long>(list->size());
  if (index < 0) index += len;
  if (index < 0 || index >= len) return reply_null(c.out);
  reply_bulk(c.out, (*list)[static_cast<std::size_t>(index)]);
}

// ---------------------------------------------------------------- sets

void cmd_sadd(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Entry* e = nullptr;
  Set* set = lookup_or_create<Set>(c, l.shard, l.key, e);
  if (set == nullptr) return;
  long long added = 0;
  for (std::size_t i = 2; i < c.args.size(); ++i) {
    if (set->emplace(c.args[i]).second) {
      ++added;
      l.shard.charge(*e, static_cast<std::ptrdiff_t>(element_bytes(c.args[i])));
    }
  }
  reply_int(c.out, added);
}

void cmd_srem(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Set* set = nullptr;
  Entry* e = nullptr;
  if (!lookup(c, l.shard, l.key, set, &e)) return;
  long long removed = 0;
  if (set != nullptr) {
    for (std::size_t i = 2; i < c.args.size(); ++i) {
      const auto it = set->find(c.args[i]);
      if (it != set->end()) {
        l.shard.charge(*e, -static_cast<std::ptrdiff_t>(element_bytes(*it)));
        set->erase(it);
        ++removed;
      }
    }
    if (set->empty()) l.shard.erase(l.key);
  }
  reply_int(c.out, removed);
}

void cmd_scard(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Set* set = nullptr;
  if (!lookup(c, l.shard, l.key, set)) return;
  reply_int(c.out, set ? static_cast<long long>(set->size()) : 0);
}

void cmd_sismember(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Set* set = nullptr;
  if (!lookup(c, l.shard, l.key, set)) return;
  reply_int(c.out, set && set->find(c.args[2]) != set->end() ? 1 : 0);
}

void cmd_smembers(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Set* set = nullptr;
  if (!lookup(c, l.shard, l.key, set)) return;
  if (set == nullptr) return reply_array(c.out, 0);
  reply_array(c.out, set->size());
  for (const auto& m : *set) reply_bulk(c.out, m);
}

// Removes and returns a random member: a random non-empty bucket, then its first member.
std::string pop_random(Set& set) {
  auto it = set.begin();
  const std::size_t buckets = set.bucket_count();
  for (int tries = 0; tries < 64; ++tries) {
    const std::size_t b = static_cast<std::size_t>(rng()() % buckets);
    if (set.bucket_size(b) > 0) {
      it = set.find(*set.begin(b));
      break;
    }
  }
  std::string member = std::move(set.extract(it).value());
  return member;
}

void cmd_spop(Ctx& c) {
  if (c.args.size() > 3) return reply_error(c.out, kSyntax);
  const bool has_count = c.args.size() == 3;
  long long count = 1;
  if (has_count && (!parse_int(c.args[2], count) || count < 0)) {
    return reply_error(c.out, kNotPositive);
  }
  auto l = lock_key(c.ks, c.args[1]);
  Set* set = nullptr;
  Entry* e = nullptr;
  if (!lookup(c, l.shard, l.key, set, &e)) return;
  if (set == nullptr) return has_count ? reply_array(c.out, 0) : reply_null(c.out);
  auto pop_one = [&] {
    const std::string member = pop_random(*set);
    l.shard.charge(*e, -static_cast<std::ptrdiff_t>(element_bytes(member)));
    reply_bulk(c.out, member);
  };
  if (!has_count) {
    pop_one();
  } else {
    const auto n = std::min<std::size_t>(static_cast<std::size_t>(count), set->size());
    reply_array(c.out, n);
    for (std::size_t i = 0; i < n; ++i) pop_one();
  }
  if (set->empty()) l.shard.erase(l.key);
}

// ---------------------------------------------------------------- hashes

void cmd_hset(Ctx& c) {
  if (c.args.size() % 2 != 0) return arity_error(c);
  auto l = lock_key(c.ks, c.args[1]);
  Entry* e = nullptr;
  Hash* hash = lookup_or_create<Hash>(c, l.shard, l.key, e);
  if (hash == nullptr) return;
  long long added = 0;
  for (std::size_t i = 2; i + 1 < c.args.size(); i += 2) {
    auto [it, inserted] = hash->try_emplace(std::string(c.args[i]));
    const std::size_t before = inserted ? 0 : element_bytes(it->first) + it->second.size();
    it->second.assign(c.args[i + 1]);
    l.shard.charge(*e, static_cast<std::ptrdiff_t>(element_bytes(it->first) + it->second.size()) -
                           static_cast<std::ptrdiff_t>(before));
    if (inserted) ++added;
  }
  reply_int(c.out, added);
}

void cmd_hget(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Hash* hash = nullptr;
  if (!lookup(c, l.shard, l.key, hash)) return;
  if (hash == nullptr) return reply_null(c.out);
  const auto it = hash->find(c.args[2]);
  if (it == hash->end()) return reply_null(c.out);
  reply_bulk(c.out, it->second);
}

void cmd_hdel(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Hash* hash = nullptr;
  Entry* e = nullptr;
  if (!lookup(c, l.shard, l.key, hash, &e)) return;
  long long removed = 0;
  if (hash != nullptr) {
    for (std::size_t i = 2; i < c.args.size(); ++i) {
      const auto it = hash->find(c.args[i]);
      if (it != hash->end()) {
        l.shard.charge(*e, -static_cast<std::ptrdiff_t>(element_bytes(it->first) + it->second.size()));
        hash->erase(it);
        ++removed;
      }
    }
    if (hash->empty()) l.shard.erase(l.key);
  }
  reply_int(c.out, removed);
}

void cmd_hlen(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Hash* hash = nullptr;
  if (!lookup(c, l.shard, l.key, hash)) return;
  reply_int(c.out, hash ? static_cast<long long>(hash->size()) : 0);
}

void cmd_hgetall(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  Hash* hash = nullptr;
  if (!lookup(c, l.shard, l.key, hash)) return;
  if (hash == nullptr) return reply_array(c.out, 0);
  reply_array(c.out, hash->size() * 2);
  for (const auto& [f, v] : *hash) {
    reply_bulk(c.out, f);
    reply_bulk(c.out, v);
  }
}

// ---------------------------------------------------------------- sorted sets

void cmd_zadd(Ctx& c) {
  if ((c.args.size() - 2) % 2 != 0) return reply_error(c.out, kSyntax);
  std::vector<double> scores;
  for (std::size_t i = 2; i < c.args.size(); i += 2) {
    double s = 0;
    if (!parse_double(c.args[i], s)) return reply_error(c.out, kNotFloat);
    scores.push_back(s);
  }
  auto l = lock_key(c.ks, c.args[1]);
  Entry* e = nullptr;
  ZSet* z = lookup_or_create<ZSet>(c, l.shard, l.key, e);
  if (z == nullptr) return;
  long long added = 0;
  for (std::size_t i = 2, k = 0; i + 1 < c.args.size(); i += 2, ++k) {
    const std::string_view member = c.args[i + 1];
    const auto it = z->scores.find(member);
    if (member.size() > kZsetCompactMaxBytes ||
        (it == z->scores.end() && z->scores.size() + 1 > kZsetCompactMaxMembers)) {
      z->compact = false;
    }
    if (z->compact && scores[k] == 0) scores[k] = 0.0;  // -0 -> 0, as a listpack stores it
    if (it == z->scores.end()) {
      z->scores.emplace(std::string(member), scores[k]);
      z->by_score.emplace(scores[k], std::string(member));
      l.shard.charge(*e, static_cast<std::ptrdiff_t>(2 * element_bytes(member)));
      ++added;
    } else if (it->second != scores[k]) {
      z->by_score.erase(std::pair<double, std::string>(it->second, it->first));
      it->second = scores[k];
      z->by_score.emplace(scores[k], it->first);
    }
  }
  reply_int(c.out, added);
}

void cmd_zpopmin(Ctx& c) {
  if (c.args.size() > 3) return reply_error(c.out, kSyntax);
  long long count = 1;
  if (c.args.size() == 3 && (!parse_int(c.args[2], count) || count < 0)) {
    return reply_error(c.out, kNotPositive);
  }
  auto l = lock_key(c.ks, c.args[1]);
  ZSet* z = nullptr;
  Entry* e = nullptr;
  if (!lookup(c, l.shard, l.key, z, &e)) return;
  if (z == nullptr) return reply_array(c.out, 0);
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(count), z->by_score.size());
  reply_array(c.out, n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    auto node = z->by_score.extract(z->by_score.begin());
    l.shard.charge(*e, -static_cast<std::ptrdiff_t>(2 * element_bytes(node.value().second)));
    reply_bulk(c.out, node.value().second);
    reply_double(c.out, node.value().first);
    z->scores.erase(node.value().second);
  }
  if (z->by_score.empty()) l.shard.erase(l.key);
}

void cmd_zcard(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  ZSet* z = nullptr;
  if (!lookup(c, l.shard, l.key, z)) return;
  reply_int(c.out, z ? static_cast<long long>(z->scores.size()) : 0);
}

void cmd_zscore(Ctx& c) {
  auto l = lock_key(c.ks, c.args[1]);
  ZSet* z = nullptr;
  if (!lookup(c, l.shard, l.key, z)) return;
  if (z == nullptr) return reply_null(c.out);
  const auto it = z->scores.find(c.args[2]);
  if (it == z->scores.end()) return reply_null(c.out);
  reply_double(c.out, it->second);
}

void cmd_zrange(Ctx& c) {
  bool with_scores = false;
  for (std::size_t i = 4; i < c.args.size(); ++i) {
    if (!opt_is(c.args[i], "withscores")) return reply_error(c.out, kSyntax);
    with_scores = true;
  }
  long long start = 0, stop = 0;
  if (!parse_int(c.args[2], start) || !parse_int(c.args[3], stop)) {
    return reply_error(c.out, kNotInteger);
  }
  auto l = lock_key(c.ks, c.args[1]);
  ZSet* z = nullptr;
  if (!lookup(c, l.shard, l.key, z)) return;
  if (z == nullptr || !normalize_range(start, stop, static_cast<long long>(z->by_score.size()))) {
    return reply_array(c.out, 0);
  }
  const auto n = static_cast<std::size_t>(stop - start + 1);
  reply_array(c.out, with_scores ? n * 2 : n);
  auto it = std::next(z->by_score.begin(), static_cast<std::ptrdiff_t>(start));
  for (std::size_t i = 0; i < n; ++i, ++it) {
    reply_bulk(c.out, it->second);
    if (with_scores) reply_double(c.out, it->first);
  }
}

// ---------------------------------------------------------------- table

const CommandTable& command_table() {
  // Spec: handler, arity, denyoom (Redis's flag: the write commands that can grow memory).
  static const CommandTable table = {
      {"ping", {cmd_ping, -1}},          {"echo", {cmd_echo, 2}},
      {"quit", {cmd_quit, -1}},          {"select", {cmd_select, 2}},
      {"hello", {cmd_hello, -1}},        {"command", {cmd_command, -1}},
      {"config", {cmd_config, -2}},      {"info", {cmd_info, -1}},
      {"dbsize", {cmd_dbsize, 1}},       {"flushdb", {cmd_flush, -1}},
      {"flushall", {cmd_flush, -1}},     {"del", {cmd_del, -2}},
      {"exists", {cmd_exists, -2}},      {"type", {cmd_type, 2}},
      {"expire", {cmd_expire, -3}},      {"pexpire", {cmd_pexpire, -3}},
      {"ttl", {cmd_ttl, 2}},             {"pttl", {cmd_pttl, 2}},
      {"persist", {cmd_persist, 2}},     {"keys", {cmd_keys, 2}},
      {"set", {cmd_set, -3, true}},      {"get", {cmd_get, 2}},
      {"incr", {cmd_incr, 2, true}},     {"decr", {cmd_decr, 2, true}},
      {"incrby", {cmd_incrby, 3, true}}, {"decrby", {cmd_decrby, 3, true}},
      {"mget", {cmd_mget, -2}},          {"mset", {cmd_mset, -3, true}},
      {"append", {cmd_append, 3, true}}, {"strlen", {cmd_strlen, 2}},
      {"lpush", {cmd_lpush, -3, true}},  {"rpush", {cmd_rpush, -3, true}},
      {"lpop", {cmd_lpop, -2}},          {"rpop", {cmd_rpop, -2}},
      {"lrange", {cmd_lrange, 4}},       {"llen", {cmd_llen, 2}},
      {"lindex", {cmd_lindex, 3}},       {"sadd", {cmd_sadd, -3, true}},
      {"srem", {cmd_srem, -3}},          {"spop", {cmd_spop, -2}},
      {"scard", {cmd_scard, 2}},         {"sismember", {cmd_sismember, 3}},
      {"smembers", {cmd_smembers, 2}},   {"hset", {cmd_hset, -4, true}},
      {"hget", {cmd_hget, 3}},           {"hdel", {cmd_hdel, -3}},
      {"hlen", {cmd_hlen, 2}},           {"hgetall", {cmd_hgetall, 2}},
      {"zadd", {cmd_zadd, -4, true}},    {"zpopmin", {cmd_zpopmin, -2}},
      {"zcard", {cmd_zcard, 2}},         {"zscore", {cmd_zscore, 3}},
      {"zrange", {cmd_zrange, -4}},
  };
  return table;
}

void unknown_command(std::span<const std::string_view> args, std::string& out) {
  // Redis formats this with printf("%.128s"): each argument ends at its first NUL, and the
  // list stops once it is 128 bytes long.
  auto c_string = [](std::string_view a) { return a.substr(0, a.find('\0')); };
  std::string list;
  for (std::size_t i = 1; i < args.size() && list.size() < 128; ++i) {
    const std::size_t room = 128 - list.size();
    list += '\'';
    list.append(c_string(args[i]).substr(0, room));
    list += "' ";
  }
  std::string msg = "ERR unknown command '";
  msg.append(c_string(args[0]).substr(0, 128));
  msg += "', with args beginning with: ";
  msg += list;
  reply_error(out, msg);
}

}  // namespace

CommandOutcome execute(Keyspace& ks, const Config& config, std::span<const std::string_view> args,
                       std::string& out, std::int64_t now) {
  const auto& table = command_table();
  const auto* command = table.find(args[0]);  // case-insensitive, no copy of the name
  if (command == nullptr) {
    unknown_command(args, out);
    return {};
  }
  const Spec& spec = command->value;
  Ctx c{ks, config, args, out, now, {}};
  const auto n = static_cast<long long>(args.size());
  if ((spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity)) {
    arity_error(c);
    return {};
  }
  // As Redis with maxmemory-policy noeviction: once the key space is past the limit, commands
  // that may grow it are refused (reads and deletes still run). One command can pass the
  // limit by at most its own size, which the query buffer limit bounds.
  if (spec.denyoom && config.maxmemory != 0 && ks.used_bytes() > config.maxmemory) {
    reply_error(out, "OOM command not allowed when used memory > 'maxmemory'.");
    return {};
  }
  spec.fn(c);
  return c.outcome;
}

Progress process(Keyspace& ks, Session& s, std::string_view in, std::string& out,
                 std::size_t reply_budget, std::int64_t now) {
  Progress p;
  while (p.consumed < in.size()) {
    const ParseResult r = s.parser.parse(in.substr(p.consumed), s.args);
    if (r.status == ParseStatus::incomplete) break;
    if (r.status == ParseStatus::error) {
      std::string msg = "ERR Protocol error: ";
      msg += r.error;
      if (r.got != 0 || r.error == "expected '$'") {
        msg += ", got '";
        msg += r.got;
        msg += '\'';
      }
      reply_error(out, msg);
      p.consumed = in.size();
      p.close = true;
      break;
    }
    p.consumed += r.consumed;
    if (s.args.empty()) continue;  // empty inline line, "*0"
    if (execute(ks, *s.config, s.args, out, now).close) {
      p.close = true;
      break;
    }
    if (out.size() >= reply_budget) {
      p.budget_reached = true;
      break;
    }
  }
  return p;
}

}  // namespace redis_example
