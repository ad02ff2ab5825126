// examples/redis/keyspace.cpp — see keyspace.hpp.
#include "keyspace.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <random>

namespace redis_example {

std::int64_t now_ms() noexcept { return to_ms(std::chrono::steady_clock::now()); }

const SipKey& hash_key() noexcept {
  static const SipKey key = [] {
    std::uint64_t words[2] = {0, 0};
    auto* p = reinterpret_cast<unsigned char*>(words);
    std::size_t got = 0;
    while (got < sizeof words) {
      const ssize_t n = ::getrandom(p + got, sizeof words - got, 0);
      if (n > 0) {
        got += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EINTR) {
        // No getrandom (ENOSYS before Linux 3.17, or a seccomp filter): the C++ library's
        // source, /dev/urandom on Linux.
        std::random_device device;
        for (auto& w : words) w = (std::uint64_t{device()} << 32) ^ device();
        break;
      }
    }
    return SipKey{words[0], words[1]};
  }();
  return key;
}

Entry* Shard::find(const HashedKey& key, std::int64_t now) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  if (it->second.expire_at != 0 && it->second.expire_at <= now) {
    erase(it);
    return nullptr;
  }
  return &it->second;
}

Entry& Shard::set_string(Entry* e, std::string_view key, std::string_view value, bool keep_ttl) {
  if (e == nullptr) {
    auto [it, inserted] = map_.try_emplace(std::string(key));
    it->second.value.emplace<std::string>(value);
    charge(it->second, static_cast<std::ptrdiff_t>(kKeyOverhead + key.size() + value.size()));
    return it->second;
  }
  const auto before = static_cast<std::ptrdiff_t>(e->bytes);
  if (auto* s = std::get_if<std::string>(&e->value)) {
    s->assign(value);  // in place: no allocation when the old buffer is big enough
  } else {
    e->value.emplace<std::string>(value);
  }
  charge(*e, static_cast<std::ptrdiff_t>(kKeyOverhead + key.size() + value.size()) - before);
  if (!keep_ttl && e->expire_at != 0) set_expiry(key, *e, 0);
  return *e;
}

void Shard::forget_expiry(std::int64_t deadline, std::string_view key) {
  // find() + erase(iterator): heterogeneous erase(key) is C++23.
  const auto it = expiries_.find(std::pair<std::int64_t, std::string_view>(deadline, key));
  if (it != expiries_.end()) expiries_.erase(it);
}

void Shard::erase(Map::iterator it) {
  if (it->second.expire_at != 0) {
    forget_expiry(it->second.expire_at, it->first);
  }
  charge(it->second, -static_cast<std::ptrdiff_t>(it->second.bytes));
  map_.erase(it);
}

bool Shard::erase(const HashedKey& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  erase(it);
  return true;
}

void Shard::set_expiry(std::string_view key, Entry& entry, std::int64_t deadline) {
  if (entry.expire_at != 0) {
    forget_expiry(entry.expire_at, key);
  }
  entry.expire_at = deadline;
  if (deadline != 0) expiries_.emplace(deadline, std::string(key));
}

std::size_t Shard::sweep(std::int64_t now, std::size_t budget) {
  std::size_t n = 0;
  while (n < budget && !expiries_.empty() && expiries_.begin()->first <= now) {
    auto it = map_.find(expiries_.begin()->second);
    erase(it);  // removes the index entry too
    ++n;
  }
  return n;
}

void Shard::clear() {
  map_.clear();
  expiries_.clear();
  used_.store(0, std::memory_order_relaxed);
}

Keyspace::MultiLock::MultiLock(Keyspace& ks, std::span<const std::string_view> keys,
                               std::size_t first, std::size_t step) {
  std::array<bool, kShards> wanted{};
  for (std::size_t i = first; i < keys.size(); i += step) wanted[ks.shard_index(keys[i])] = true;
  for (std::size_t i = 0; i < kShards; ++i) {
    if (wanted[i]) locks_[i] = std::unique_lock<std::mutex>(ks.shards_[i].mutex);
  }
}

std::size_t Keyspace::sweep(std::int64_t now, std::size_t budget_per_shard) {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.sweep(now, budget_per_shard);
  }
  return n;
}

std::size_t Keyspace::size() {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.size();
  }
  return n;
}

std::size_t Keyspace::expiring() {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.expiring();
  }
  return n;
}

std::size_t Keyspace::used_bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& s : shards_) n += s.used_bytes();
  return n;
}

void Keyspace::clear() {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    s.clear();
  }
}

}  // namespace redis_example
