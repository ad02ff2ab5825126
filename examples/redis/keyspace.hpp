// examples/redis/keyspace.hpp — the shared, thread-safe key space.
//
// Design: one key space for the whole server, split into kShards shards by key hash; each shard
// is an unordered_map guarded by its own mutex. Every connection on every loop sees every key.
// A single-key command locks one shard; a multi-key command (MSET, MGET, DEL, EXISTS) locks all
// the shards it touches in ascending index order (no deadlock) and is therefore atomic, as in
// Redis. Whole-keyspace commands (DBSIZE, FLUSHDB, KEYS) lock the shards one after another.
//
// Expiry: each shard keeps an ordered index (deadline, key) next to the map. Keys are expired
// lazily — a lookup that finds an expired key deletes it and reports "missing" — and actively
// by sweep(), which on_tick calls periodically: it pops due keys off the front of each shard's
// index, a bounded number per call, so loop 0 is never held up for long.
// Deadlines are on the steady clock (milliseconds), immune to wall-clock jumps.
//
// Memory accounting (for --maxmemory): every entry carries an estimate of the bytes it holds
// (key and value bytes plus a fixed overhead per key and per element, see the constants
// below), kept up to date by the commands as they change values, and each shard keeps the sum.
// used_bytes() adds the shards up without locking: a snapshot good enough for a limit.
#pragma once

#include <array>
#include <chrono>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "siphash.hpp"

namespace redis_example {

// This process's secret hash key: 128 random bits from getrandom(), drawn on first use.
const SipKey& hash_key() noexcept;

// A key with its hash, computed once: the shard is picked and the shard's table searched with
// the same hash (a command hashes its key once, not once per step). Implicit from a
// string_view, so a call that has only the key still works (and hashes it there).
struct HashedKey {
  std::string_view key;
  std::size_t hash;
  HashedKey(std::string_view k) noexcept;  // NOLINT: implicit on purpose (see above)
  friend bool operator==(const HashedKey& a, std::string_view b) noexcept { return a.key == b; }
};

// Transparent, keyed hashing (SipHash-1-3 under hash_key(), see siphash.hpp: no client can
// pick keys or members that collide): look up std::string keys with a std::string_view or a
// HashedKey, without a copy.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return static_cast<std::size_t>(siphash<1, 3>(hash_key(), s));
  }
  std::size_t operator()(const HashedKey& k) const noexcept { return k.hash; }
};
inline HashedKey::HashedKey(std::string_view k) noexcept : key(k), hash(KeyHash{}(k)) {}
using KeyEq = std::equal_to<>;

using List = std::deque<std::string>;
using Set = std::unordered_set<std::string, KeyHash, KeyEq>;
using Hash = std::unordered_map<std::string, std::string, KeyHash, KeyEq>;
struct ZSet {
  std::set<std::pair<double, std::string>, std::less<>> by_score;  // score, then member
  std::unordered_map<std::string, double, KeyHash, KeyEq> scores;
  // Whether redis-server would still hold this set as a listpack (at most 128 members of at
  // most 64 bytes; it never converts back): a listpack stores a score of -0 as 0, and replies
  // must show the same.
  bool compact = true;
};
using Value = std::variant<std::string, List, Set, Hash, ZSet>;

struct Entry {
  Value value;
  std::int64_t expire_at = 0;  // steady-clock milliseconds; 0 = no expiry
  std::size_t bytes = 0;       // accounted size of key + value (see Shard::charge)
};

// Estimates for the accounting: a key's hash node, Entry and key string header; one element's
// node and string header in a list, set or hash (a sorted-set member is two elements: the
// score index and the member map).
inline constexpr std::size_t kKeyOverhead = 160;
inline constexpr std::size_t kElementOverhead = 48;
inline constexpr std::size_t element_bytes(std::string_view s) noexcept {
  return kElementOverhead + s.size();
}

// Milliseconds on the steady clock: read now, or a time already read (gnet::Loop::now()).
std::int64_t now_ms() noexcept;
inline std::int64_t to_ms(std::chrono::steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

class Shard {
 public:
  // All members below require `mutex` to be held by the caller, except used_bytes().
  std::mutex mutex;

  // The live entry for key, or nullptr. An expired entry is deleted here (lazy expiry).
  Entry* find(const HashedKey& key, std::int64_t now);
  // Inserts an empty entry holding T when key is missing (or expired); returns the entry and
  // whether it was created. Does not check the type of an existing entry.
  template <class T>
  std::pair<Entry*, bool> find_or_create(const HashedKey& key, std::int64_t now) {
    if (Entry* e = find(key, now)) return {e, false};
    auto [it, inserted] = map_.try_emplace(std::string(key.key));
    it->second.value.template emplace<T>();
    charge(it->second, static_cast<std::ptrdiff_t>(kKeyOverhead + key.key.size()));
    return {&it->second, true};
  }
  // Makes key a string holding value (whatever it held before), reusing the old string's
  // buffer when it was a string already; clears the expiry unless keep_ttl.
  Entry& set_string(const HashedKey& key, std::string_view value, std::int64_t now,
                    bool keep_ttl = false) {
    return set_string(find(key, now), key.key, value, keep_ttl);
  }
  // The same when the caller has just looked key up: `existing` is what find() returned
  // (nullptr: missing), which saves a second hash and lookup on the SET path.
  Entry& set_string(Entry* existing, std::string_view key, std::string_view value,
                    bool keep_ttl = false);
  bool erase(const HashedKey& key);
  // deadline 0 removes the expiry.
  void set_expiry(std::string_view key, Entry& entry, std::int64_t deadline);
  // Deletes up to `budget` keys whose deadline has passed; returns how many.
  std::size_t sweep(std::int64_t now, std::size_t budget);
  std::size_t size() const noexcept { return map_.size(); }
  std::size_t expiring() const noexcept { return expiries_.size(); }
  void clear();
  // Calls fn(key) for every live key.
  template <class Fn>
  void for_each_key(std::int64_t now, Fn&& fn) const {
    for (const auto& [key, entry] : map_) {
      if (entry.expire_at != 0 && entry.expire_at <= now) continue;
      fn(key);
    }
  }

  // Records that entry grew (or shrank, delta < 0) by delta accounted bytes.
  void charge(Entry& entry, std::ptrdiff_t delta) noexcept {
    entry.bytes = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(entry.bytes) + delta);
    // Only the shard's lock holder writes: a plain load + store is enough.
    used_.store(static_cast<std::size_t>(
                    static_cast<std::ptrdiff_t>(used_.load(std::memory_order_relaxed)) + delta),
                std::memory_order_relaxed);
  }
  std::size_t used_bytes() const noexcept { return used_.load(std::memory_order_relaxed); }

 private:
  using Map = std::unordered_map<std::string, Entry, KeyHash, KeyEq>;
  void erase(Map::iterator it);
  void forget_expiry(std::int64_t deadline, std::string_view key);

  // (deadline, key) in deadline order, searchable with a string_view key (no copy).
  struct ExpiryOrder {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      if (a.first != b.first) return a.first < b.first;
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };

  Map map_;
  std::set<std::pair<std::int64_t, std::string>, ExpiryOrder> expiries_;
  std::atomic<std::size_t> used_{0};
};

class Keyspace {
 public:
  static constexpr std::size_t kShards = 16;

  // The shard from the hash's top bits: the tables inside use its low bits (bucket = hash
  // modulo a prime), so the two choices stay independent.
  static std::size_t shard_index(const HashedKey& key) noexcept {
    return (key.hash >> (8 * sizeof(std::size_t) - 8)) % kShards;  // the top byte
  }
  Shard& shard(const HashedKey& key) noexcept { return shards_[shard_index(key)]; }
  Shard& shard_at(std::size_t i) noexcept { return shards_[i]; }

  // Locks the shards of keys[first], keys[first + step], ... in ascending shard order (no
  // deadlock); unlocks on destruction. Allocates nothing.
  class MultiLock {
   public:
    MultiLock(Keyspace& ks, std::span<const std::string_view> keys, std::size_t first,
              std::size_t step);
    MultiLock(const MultiLock&) = delete;
    MultiLock& operator=(const MultiLock&) = delete;

   private:
    std::array<std::unique_lock<std::mutex>, kShards> locks_;
  };

  // Expires due keys in every shard, at most budget_per_shard per shard. Returns how many.
  std::size_t sweep(std::int64_t now, std::size_t budget_per_shard);
  std::size_t size();
  std::size_t expiring();
  void clear();
  // Accounted bytes of all keys and values (no locks taken; a recent snapshot).
  std::size_t used_bytes() const noexcept;

 private:
  std::array<Shard, kShards> shards_;
};

}  // namespace redis_example
