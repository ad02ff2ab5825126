// examples/redis: the key space shared by connections on different threads (run under TSan by
// make test-tsan, hence its own binary labelled "threaded").
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "keyspace.hpp"
#include "resp_command.hpp"

using namespace redis_example;

namespace {

using redis_test::bulk;
using redis_test::cmd;
using redis_test::numbered;

// A maxmemory far above what the test stores: every write reads the shards' byte counters
// while other threads update them (the accounting under TSan).
Config make_config() {
  Config c;
  c.maxmemory = std::size_t{1} << 40;
  return c;
}
const Config kConfig = make_config();

// Runs the commands in `in` as one connection would and returns the replies.
std::string run_on(Keyspace& ks, Session& session, const std::string& in) {
  std::string out;
  const Progress p = process(ks, session, in, out);
  EXPECT_EQ(p.consumed, in.size());
  return out;
}

std::string run(Keyspace& ks, std::initializer_list<std::string_view> args) {
  Session s(kConfig);
  return run_on(ks, s, cmd(args));
}

}  // namespace

TEST(RedisKeyspace, ConcurrentConnectionsShareKeys) {
  Keyspace ks;
  constexpr int kThreads = 4, kIncrements = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ks, t] {
      Session s(kConfig);
      for (int i = 0; i < kIncrements; ++i) {
        run_on(ks, s, cmd({"INCR", "counter"}));
        run_on(ks, s, cmd({"MSET", numbered("a", t), "1", "b", std::to_string(i)}));
        run_on(ks, s, cmd({"RPUSH", "list", "x"}));
        run_on(ks, s, cmd({"SET", numbered("e", i % 50), "v", "PX", "1"}));
        run_on(ks, s, cmd({"MGET", "counter", "b", "e1"}));
        if (i % 100 == 0) ks.sweep(now_ms(), 16);  // as on_tick does, concurrently
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(run(ks, {"GET", "counter"}), "$4\r\n8000\r\n");
  EXPECT_EQ(run(ks, {"LLEN", "list"}), ":8000\r\n");
  EXPECT_EQ(run(ks, {"EXISTS", "a0", "a1", "a2", "a3"}), ":4\r\n");
  // The byte accounting came through the races intact: back to zero once everything is gone.
  ks.sweep(now_ms() + 1000, 1000);
  EXPECT_EQ(run(ks, {"DEL", "counter", "list", "b", "a0", "a1", "a2", "a3"}), ":7\r\n");
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_EQ(ks.used_bytes(), 0u);
}
