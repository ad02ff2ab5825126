// bench_protocols — Google Benchmark micro-benchmarks of the protocol examples' user-space work
// per request: parsing a pipelined batch and building its replies, with no sockets. The
// end-to-end figures in docs/benchmarks.md are mostly kernel time and vary by ±15 % between
// runs of one binary on a VM; these isolate the part the examples' code decides, so a change
// to it shows as ns/request. Batches are what the bench's load generators send: wrk's GET with
// 16 pipelined (bench/wrk_pipeline.lua) and redis-benchmark -P 16's GET and SET.
#include <benchmark/benchmark.h>

#include <string>

#include "commands.hpp"    // examples/redis
#include "http_app.hpp"    // examples/http
#include "keyspace.hpp"

namespace {

constexpr int kDepth = 16;

std::string repeat(const std::string& one, int n) {
  std::string all;
  for (int i = 0; i < n; ++i) all.append(one);
  return all;
}

// One read of wrk -s wrk_pipeline.lua: 16 × wrk.format() against http://127.0.0.1:8081/.
void BM_Http_Pipelined16(benchmark::State& state) {
  const std::string batch = repeat("GET / HTTP/1.1\r\nHost: 127.0.0.1:8081\r\n\r\n", kDepth);
  const http_example::App app(http_example::AppConfig{});
  http_example::Session session(app.limits());
  const http_example::ResponseCache cached("Mon, 30 Nov 2026 15:00:00 GMT");
  std::string out;
  for (auto _ : state) {
    out.clear();
    const auto p = http_example::process(app, session, batch, cached, out);
    if (p.consumed != batch.size() || p.close) state.SkipWithError("batch not fully served");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kDepth);
}
BENCHMARK(BM_Http_Pipelined16);

std::string resp_command(std::initializer_list<std::string_view> args) {
  // Built with append: GCC 12 at -O2 warns falsely (-Wrestrict) about operator+ chains here.
  std::string out("*");
  out.append(std::to_string(args.size())).append("\r\n");
  for (std::string_view a : args) {
    out.append("$").append(std::to_string(a.size())).append("\r\n").append(a).append("\r\n");
  }
  return out;
}

// One read of redis-benchmark -P 16 -t get / -t set: its default key and 3-byte value.
void resp_batch(benchmark::State& state, const std::string& batch) {
  const redis_example::Config config;
  redis_example::Keyspace keyspace;
  redis_example::Session session(config);
  std::string out;
  const std::int64_t now = redis_example::now_ms();
  // The key exists, as it does once the SET test has run.
  redis_example::process(keyspace, session, resp_command({"SET", "key:__rand_int__", "xxx"}), out,
                         redis_example::kNoReplyBudget, now);
  for (auto _ : state) {
    out.clear();
    const auto p = redis_example::process(keyspace, session, batch, out, redis_example::kNoReplyBudget, now);
    if (p.consumed != batch.size() || p.close) state.SkipWithError("batch not fully served");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kDepth);
}

void BM_Resp_Get16(benchmark::State& state) {
  resp_batch(state, repeat(resp_command({"GET", "key:__rand_int__"}), kDepth));
}
BENCHMARK(BM_Resp_Get16);

void BM_Resp_Set16(benchmark::State& state) {
  resp_batch(state, repeat(resp_command({"SET", "key:__rand_int__", "xxx"}), kDepth));
}
BENCHMARK(BM_Resp_Set16);

}  // namespace

BENCHMARK_MAIN();
