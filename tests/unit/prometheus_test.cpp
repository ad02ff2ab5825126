// gnet::to_prometheus on hand-made metrics: exact lines, cumulative buckets, exact decimals.
// (tests/examples/http_e2e.py parses a live server's output with the Prometheus client parser.)
#include <gtest/gtest.h>

#include <gnet/metrics.hpp>

#include <string>

using namespace gnet;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST(Prometheus, FamiliesLabelsAndHistogram) {
  EngineMetrics m;
  m.loops.resize(2);
  m.loops[0].loop = 0;
  m.loops[1].loop = 1;
  m.loops[0].bytes_in = 1234;
  m.loops[1].open_connections = 7;
  m.loops[1].turn_time.buckets[0] = 3;                       // <= 1 us
  m.loops[1].turn_time.buckets[2] = 2;                       // <= 4 us
  m.loops[1].turn_time.buckets[TurnHistogram::kBounds] = 1;  // beyond the last bound
  m.loops[1].turn_time.sum_ns = 1'500'000;                   // 1.5 ms
  const std::string text = to_prometheus(m);

  EXPECT_TRUE(text.rfind("# HELP gnet_connections_open ", 0) == 0) << text.substr(0, 80);
  EXPECT_TRUE(has_line(text, "# TYPE gnet_connections_open gauge"));
  EXPECT_TRUE(has_line(text, "gnet_connections_open{loop=\"1\"} 7"));
  EXPECT_TRUE(has_line(text, "# TYPE gnet_bytes_in_total counter"));
  EXPECT_TRUE(has_line(text, "gnet_bytes_in_total{loop=\"0\"} 1234"));
  EXPECT_TRUE(has_line(text, "gnet_bytes_in_total{loop=\"1\"} 0"));
  EXPECT_TRUE(has_line(text, "# TYPE gnet_loop_turn_duration_seconds histogram"));
  const std::string h = "gnet_loop_turn_duration_seconds";
  EXPECT_TRUE(has_line(text, h + "_bucket{loop=\"1\",le=\"0.000001\"} 3"));
  EXPECT_TRUE(has_line(text, h + "_bucket{loop=\"1\",le=\"0.000002\"} 3"));
  EXPECT_TRUE(has_line(text, h + "_bucket{loop=\"1\",le=\"0.000004\"} 5"));
  EXPECT_TRUE(has_line(text, h + "_bucket{loop=\"1\",le=\"2.097152\"} 5"));
  EXPECT_TRUE(has_line(text, h + "_bucket{loop=\"1\",le=\"+Inf\"} 6"));
  EXPECT_TRUE(has_line(text, h + "_sum{loop=\"1\"} 0.0015"));
  EXPECT_TRUE(has_line(text, h + "_count{loop=\"1\"} 6"));
  EXPECT_TRUE(has_line(text, h + "_sum{loop=\"0\"} 0"));
  EXPECT_EQ(text.back(), '\n');
  // Every sample line belongs to a family announced before it.
  std::string announced;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      announced = line.substr(7, line.find(' ', 7) - 7);
    } else if (line[0] != '#') {
      EXPECT_EQ(line.rfind(announced, 0), 0u) << line;
    }
  }
}

TEST(Prometheus, SumsAndCount) {
  LoopMetrics a, b;
  a.turn_time.buckets[1] = 2;
  b.turn_time.buckets[1] = 3;
  b.turn_time.sum_ns = 10;
  a.accepted = 4;
  b.accepted = 5;
  a += b;
  EXPECT_EQ(a.accepted, 9u);
  EXPECT_EQ(a.turn_time.count(), 5u);
  EXPECT_EQ(a.turn_time.sum_ns, 10u);
}
