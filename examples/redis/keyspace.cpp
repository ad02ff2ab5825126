// examples/redis/keyspace.cpp — see keyspace.hpp.
#include "keyspace.hpp"

#include <algorithm>
#include <chrono>

namespace redis_example {

std::int64_t now_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Entry* Shard::find(std::string_view key, std::int64_t now) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  if (it->second.expire_at != 0 && it->second.expire_at <= now) {
    expiries_.erase(std::pair<std::int64_t, std::string>(it->second.expire_at, it->first));
    map_.erase(it);
    return nullptr;
  }
  return &it->second;
}

Entry& Shard::assign(std::string_view key, Value value, std::int64_t now, bool keep_ttl) {
  Entry* e = find(key, now);
  if (e == nullptr) {
    auto [it, inserted] = map_.try_emplace(std::string(key));
    it->second.value = std::move(value);
    return it->second;
  }
  e->value = std::move(value);
  if (!keep_ttl && e->expire_at != 0) set_expiry(key, *e, 0);
  return *e;
}

bool Shard::erase(std::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  if (it->second.expire_at != 0) {
    expiries_.erase(std::pair<std::int64_t, std::string>(it->second.expire_at, it->first));
  }
  map_.erase(it);
  return true;
}

void Shard::set_expiry(std::string_view key, Entry& entry, std::int64_t deadline) {
  if (entry.expire_at != 0) {
    expiries_.erase(std::pair<std::int64_t, std::string>(entry.expire_at, std::string(key)));
  }
  entry.expire_at = deadline;
  if (deadline != 0) expiries_.emplace(deadline, std::string(key));
}

std::size_t Shard::sweep(std::int64_t now, std::size_t budget) {
  std::size_t n = 0;
  while (n < budget && !expiries_.empty() && expiries_.begin()->first <= now) {
    auto node = expiries_.extract(expiries_.begin());
    map_.erase(node.value().second);
    ++n;
  }
  return n;
}

void Shard::clear() {
  map_.clear();
  expiries_.clear();
}

void Shard::for_each_key(std::int64_t now,
                         const std::function<void(const std::string&)>& fn) const {
  for (const auto& [key, entry] : map_) {
    if (entry.expire_at != 0 && entry.expire_at <= now) continue;
    fn(key);
  }
}

Keyspace::MultiLock::MultiLock(Keyspace& ks, const std::vector<std::string_view>& keys) {
  std::array<bool, kShards> wanted{};
  for (auto k : keys) wanted[ks.shard_index(k)] = true;
  for (std::size_t i = 0; i < kShards; ++i) {
    if (wanted[i]) locks_.emplace_back(ks.shards_[i].mutex);
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

void Keyspace::clear() {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    s.clear();
  }
}

}  // namespace redis_example
