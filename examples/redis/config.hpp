// examples/redis/config.hpp — the server's settings (from the command line) and the bounds
// they derive.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "resp.hpp"

namespace redis_example {

// What the flags set; shared read-only by every connection.
struct Config {
  RespLimits limits;          // proto-max-bulk-len, client-query-buffer-limit, ...
  std::size_t maxmemory = 0;  // keyspace bytes past which writes get -OOM (0 = no limit)
  long long timeout_seconds = 0;  // idle clients are closed after this (0 = never)
};

// A size as redis.conf writes it: digits with an optional unit, case-insensitive: b, k = 1000,
// kb = 1024, m = 1000², mb = 1024², g = 1000³, gb = 1024³. nullopt when malformed or past 64 bits.
std::optional<std::size_t> parse_memory_size(std::string_view text) noexcept;

}  // namespace redis_example
