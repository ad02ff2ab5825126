// The ring buffer against a std::deque model under randomized operations.
#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <random>
#include <string>

#include "buffer/ring_buffer.hpp"

using gnet::detail::RingBuffer;

namespace {

std::string front_of(const std::deque<char>& model, std::size_t n) {
  n = std::min(n, model.size());
  return std::string(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
}

// This process's resident set, from /proc/self/status.
std::size_t rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      std::size_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

}  // namespace

// Growing rounds the capacity up to a power of two; the part not yet written must not be
// touched (no zero-fill), so it costs address space, not memory.
TEST(RingBuffer, GrowingDoesNotCommitTheUnwrittenTail) {
  constexpr std::size_t kWritten = (32u << 20) + 1;  // capacity becomes 64 MiB
  const std::string source(kWritten, 'y');  // resident before the measurement starts
  std::size_t before = rss_bytes();
  RingBuffer rb;
  rb.append(source);  // one growth to the final capacity
  ASSERT_EQ(rb.capacity(), std::size_t{64} << 20);
  std::size_t grown = rss_bytes() - before;
  // The written 32 MiB become resident; a zero-filled ring would add the other 32 MiB.
  EXPECT_LT(grown, std::size_t{48} << 20) << "grew by " << (grown >> 20) << " MiB";
  rb.clear();
}

TEST(RingBuffer, StartsEmptyWithNoStorage) {
  RingBuffer rb;
  EXPECT_TRUE(rb.empty());
  EXPECT_EQ(rb.capacity(), 0u);
  EXPECT_EQ(rb.peek(10), "");
  EXPECT_EQ(rb.discard(10), 0u);
}

TEST(RingBuffer, PeekIsContiguousAcrossTheWrapPoint) {
  RingBuffer rb;
  rb.append(std::string(400, 'a'));
  ASSERT_EQ(rb.capacity(), 512u);
  rb.discard(300);                           // head at 300
  rb.append(std::string(300, 'b'));          // wraps: 212 at the end, 88 at the start
  ASSERT_EQ(rb.capacity(), 512u);            // no growth was needed
  std::string_view v = rb.peek(400);
  EXPECT_EQ(v, std::string(100, 'a') + std::string(300, 'b'));
}

TEST(RingBuffer, ViewsStayValidAfterALaterPeekLinearizes) {
  RingBuffer rb;
  rb.append(std::string(500, 'x'));
  rb.discard(450);
  rb.append(std::string(100, 'y'));  // 50 x then 12 y at the end, 88 y wrapped to the start
  std::string_view first = rb.peek(10);  // contiguous, no copy
  rb.discard(10);
  std::string_view rest = rb.peek(140);  // wraps: fresh storage, the old one is retired
  EXPECT_EQ(first, std::string(10, 'x'));
  EXPECT_EQ(rest, std::string(40, 'x') + std::string(100, 'y'));
  rb.drop_retired();
}

TEST(RingBuffer, ClearReleasesStorage) {
  RingBuffer rb;
  rb.append("hello");
  rb.clear();
  EXPECT_EQ(rb.capacity(), 0u);
  EXPECT_TRUE(rb.empty());
}

TEST(RingBuffer, RandomizedAgainstDequeModel) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    RingBuffer rb;
    std::deque<char> model;
    char next = 0;
    for (int step = 0; step < 5000; ++step) {
      int op = static_cast<int>(rng() % 5);
      std::size_t n = rng() % (op == 0 ? 3000 : 2000);
      switch (op) {
        case 0: {  // append
          std::string data;
          for (std::size_t i = 0; i < n; ++i) data.push_back(next++);
          rb.append(data);
          model.insert(model.end(), data.begin(), data.end());
          break;
        }
        case 1: {  // peek
          ASSERT_EQ(std::string(rb.peek(n)), front_of(model, n)) << "seed " << seed << " step " << step;
          rb.drop_retired();
          break;
        }
        case 2: {  // discard
          std::size_t expect = std::min(n, model.size());
          ASSERT_EQ(rb.discard(n), expect);
          model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(expect));
          break;
        }
        case 3: {  // read
          std::string out(n, '\0');
          std::size_t got = rb.read(out);
          ASSERT_EQ(out.substr(0, got), front_of(model, n));
          model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(got));
          break;
        }
        case 4:
          if (rng() % 50 == 0) {
            rb.clear();
            model.clear();
          }
          break;
      }
      ASSERT_EQ(rb.size(), model.size());
      ASSERT_GE(rb.capacity(), rb.size());
    }
  }
}
