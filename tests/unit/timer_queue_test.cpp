// Timers fire in deadline order, cancelled ones never fire, periodic ones re-arm.
#include <gtest/gtest.h>

#include <vector>

#include "loop/timer_queue.hpp"

using gnet::detail::TimerQueue;
using namespace std::chrono_literals;

TEST(TimerQueue, FiresInDeadlineOrderAndSkipsCancelled) {
  TimerQueue q;
  auto t0 = TimerQueue::Clock::now();
  std::vector<int> fired;
  q.add(t0 + 30ms, {}, [&] { fired.push_back(3); });
  auto id = q.add(t0 + 20ms, {}, [&] { fired.push_back(2); });
  q.add(t0 + 10ms, {}, [&] { fired.push_back(1); });
  q.add(t0 + 10ms, {}, [&] { fired.push_back(11); });  // same deadline: insertion order
  EXPECT_TRUE(q.cancel(id));
  EXPECT_FALSE(q.cancel(id));
  EXPECT_EQ(q.timeout_ms(t0), 10);
  q.run_due(t0 + 5ms);
  EXPECT_TRUE(fired.empty());
  q.run_due(t0 + 100ms);
  EXPECT_EQ(fired, (std::vector<int>{1, 11, 3}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.timeout_ms(t0), -1);
}

TEST(TimerQueue, PeriodicRearmsAndMayCancelItself) {
  TimerQueue q;
  auto t0 = TimerQueue::Clock::now();
  int count = 0;
  std::uint64_t id = 0;
  id = q.add(t0 + 10ms, 10ms, [&] {
    if (++count == 3) q.cancel(id);
  });
  q.run_due(t0 + 10ms);
  q.run_due(t0 + 20ms);
  q.run_due(t0 + 30ms);
  q.run_due(t0 + 40ms);
  EXPECT_EQ(count, 3);
  EXPECT_TRUE(q.empty());
}
