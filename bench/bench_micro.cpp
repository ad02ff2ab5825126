// bench_micro — Google Benchmark micro-benchmarks of the library's internal buffers: the
// inbound RingBuffer and the outbound BlockPool (against plain new/delete of a block).
#include "buffer/block_pool.hpp"
#include "buffer/ring_buffer.hpp"

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using gnet::detail::Block;
using gnet::detail::BlockPool;
using gnet::detail::RingBuffer;

// Steady state of an echo connection: a message arrives, the handler consumes it all.
void BM_RingBuffer_AppendRead(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::string msg(n, 'x');
  std::vector<char> out(n);
  RingBuffer rb;
  for (auto _ : state) {
    rb.append(msg);
    benchmark::DoNotOptimize(rb.read(out));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_RingBuffer_AppendRead)->Arg(64)->Arg(4096)->Arg(65536);

// A partial consumer: messages arrive in 3 pieces, peek() of a whole message then discard().
// The offsets walk around the ring, so some peeks straddle the wrap point.
void BM_RingBuffer_PeekDiscard(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::string msg(n, 'y');
  const std::size_t a = n / 3, b = n / 3;
  RingBuffer rb;
  rb.append(std::string_view(msg).substr(0, n / 2));  // keep a partial message in front
  for (auto _ : state) {
    rb.append(std::string_view(msg).substr(0, a));
    rb.append(std::string_view(msg).substr(a, b));
    rb.append(std::string_view(msg).substr(a + b));
    benchmark::DoNotOptimize(rb.peek(n).data());
    rb.discard(n);
    rb.drop_retired();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_RingBuffer_PeekDiscard)->Arg(64)->Arg(4096);

// Grow from empty and release: what an idle connection pays when a burst arrives.
void BM_RingBuffer_GrowClear(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::string msg(n, 'z');
  RingBuffer rb;
  for (auto _ : state) {
    rb.append(msg);
    benchmark::DoNotOptimize(rb.capacity());
    rb.clear();
  }
}
BENCHMARK(BM_RingBuffer_GrowClear)->Arg(512)->Arg(65536);

void BM_BlockPool_AcquireRelease(benchmark::State& state) {
  BlockPool pool;
  pool.release(pool.acquire());  // warm: one block on the free list
  for (auto _ : state) {
    Block* b = pool.acquire();
    benchmark::DoNotOptimize(b);
    pool.release(b);
  }
}
BENCHMARK(BM_BlockPool_AcquireRelease);

// Several blocks outstanding at once (a connection under back-pressure).
void BM_BlockPool_Burst(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  BlockPool pool(n);
  std::vector<Block*> held(n);
  for (auto _ : state) {
    for (auto& b : held) b = pool.acquire();
    benchmark::DoNotOptimize(held.data());
    for (auto* b : held) pool.release(b);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_BlockPool_Burst)->Arg(16)->Arg(256);

// The baseline the pool replaces.
void BM_NewDelete_Block(benchmark::State& state) {
  for (auto _ : state) {
    auto* b = new Block;
    benchmark::DoNotOptimize(b);
    delete b;
  }
}
BENCHMARK(BM_NewDelete_Block);

}  // namespace

BENCHMARK_MAIN();
