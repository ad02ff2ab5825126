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
