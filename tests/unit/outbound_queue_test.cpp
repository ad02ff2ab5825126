// The output block queue: order preserved across blocks, partial consumption, pooled blocks.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "buffer/outbound_queue.hpp"

using namespace gnet::detail;

namespace {

std::string gather_all(const OutboundQueue& q) {
  iovec iov[OutboundQueue::kMaxIov];
  int n = q.gather(iov, OutboundQueue::kMaxIov);
  std::string out;
  for (int i = 0; i < n; ++i) out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
  return out;
}

}  // namespace

TEST(OutboundQueue, KeepsOrderAcrossBlocksAndPartialConsumes) {
  BlockPool pool;
  OutboundQueue q;
  std::string model;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 2000; ++step) {
    if (rng() % 2 == 0) {
      std::string data(rng() % 40000, '\0');
      for (char& ch : data) ch = static_cast<char>(rng());
      q.append(pool, data);
      model += data;
    } else {
      std::size_t n = rng() % 50000;
      q.consume(pool, n);
      model.erase(0, std::min(n, model.size()));
    }
    ASSERT_EQ(q.size(), model.size());
    std::string got = gather_all(q);
    ASSERT_EQ(got, model.substr(0, got.size()));
  }
  q.clear(pool);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(pool.live_blocks(), 0u);
}

// Abort with an io_uring send in flight keeps exactly the in-flight bytes (possibly spanning
// blocks, possibly ending mid-block), frees every block behind them, and stays appendable.
TEST(OutboundQueue, TruncateKeepsTheFrontBytesAndFreesTheRest) {
  BlockPool pool;
  std::mt19937_64 rng(11);
  for (std::size_t keep : {std::size_t{0}, std::size_t{1}, Block::kCapacity - 1, Block::kCapacity,
                           Block::kCapacity + 5, 3 * Block::kCapacity + 17, std::size_t{200000}}) {
    OutboundQueue q;
    std::string model(100000, '\0');
    for (char& ch : model) ch = static_cast<char>(rng());
    q.consume(pool, 0);
    q.append(pool, model.substr(0, 30000));
    q.append(pool, model.substr(30000));
    q.consume(pool, 123);  // the head block starts mid-block, as after a partial send
    model.erase(0, 123);
    q.truncate(pool, keep);
    std::size_t expect = std::min(keep, model.size());
    ASSERT_EQ(q.size(), expect) << keep;
    ASSERT_EQ(gather_all(q), model.substr(0, expect)) << keep;
    std::size_t blocks_needed = 0;
    for (std::size_t bytes = 0; bytes < expect; ++blocks_needed) {
      bytes += blocks_needed == 0 ? Block::kCapacity - 123 % Block::kCapacity : Block::kCapacity;
    }
    EXPECT_LE(pool.live_blocks(), blocks_needed + 0) << keep;
    q.append(pool, "tail");
    EXPECT_EQ(gather_all(q), model.substr(0, expect) + "tail");
    q.clear(pool);
    EXPECT_EQ(pool.live_blocks(), 0u);
  }
}

TEST(BlockPool, RecyclesUpToItsLimit) {
  BlockPool pool(2);
  Block* a = pool.acquire();
  Block* b = pool.acquire();
  Block* c = pool.acquire();
  pool.release(a);
  pool.release(b);
  pool.release(c);  // over the limit: freed, not kept
  EXPECT_EQ(pool.free_blocks(), 2u);
  EXPECT_EQ(pool.live_blocks(), 0u);
  Block* again = pool.acquire();
  EXPECT_TRUE(again == a || again == b);
  pool.release(again);
}
