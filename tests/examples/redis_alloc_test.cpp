// examples/redis: the GET/SET path allocates nothing per command beyond the stored value.
//
// This binary replaces the global operator new with a counting one, so it is a test of its
// own. Once a session has warmed up (its argument vectors have grown) and the key exists,
// a pipelined batch of SET (same-size value: the string is overwritten in place), GET, INCR,
// MSET and MGET must not allocate at all: no copy of a key for a lookup (heterogeneous
// lookup), no lower-cased command name, no vector of keys or locks, no temporary reply.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "commands.hpp"
#include "keyspace.hpp"
#include "resp_command.hpp"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace redis_example;

using redis_test::cmd;

TEST(RedisAllocations, NoneOnTheGetSetPath) {
  const Config config;
  Keyspace ks;
  Session session(config);
  // A redis-benchmark -P 16 style batch, with a value too long for the small-string buffer.
  const std::string value(100, 'x');
  std::string batch;
  for (int i = 0; i < 16; ++i) {
    batch += cmd({"SET", "key:__rand_int__", value});
    batch += cmd({"get", "key:__rand_int__"});
    batch += cmd({"INCR", "counter:__rand_int__"});
  }
  batch += cmd({"MSET", "key:a", value, "key:b", value, "key:c", value});
  batch += cmd({"MGET", "key:a", "key:b", "key:c", "key:__rand_int__"});
  std::string out;
  out.reserve(1 << 20);
  // Warm-up: creates the keys and grows the session's vectors.
  ASSERT_EQ(process(ks, session, batch, out).consumed, batch.size());
  out.clear();

  const long before = g_allocations.load();
  const Progress p = process(ks, session, batch, out);
  const long allocations = g_allocations.load() - before;
  EXPECT_EQ(p.consumed, batch.size());
  EXPECT_EQ(allocations, 0) << "allocations in a batch of " << 3 * 16 + 2 << " commands";
  EXPECT_NE(out.find("$100\r\n" + value), std::string::npos);
}
