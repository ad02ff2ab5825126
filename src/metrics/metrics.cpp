// The snapshot side of the metrics: LoopCounters read from any thread, Loop::metrics and
// Engine::metrics, and the sums.
#include "gnet/metrics.hpp"

#include "engine/engine_core.hpp"
#include "loop/event_loop.hpp"
#include "metrics/loop_counters.hpp"

namespace gnet {

std::uint64_t TurnHistogram::count() const noexcept {
  std::uint64_t n = 0;
  for (std::uint64_t b : buckets) n += b;
  return n;
}

TurnHistogram& TurnHistogram::operator+=(const TurnHistogram& other) noexcept {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  sum_ns += other.sum_ns;
  return *this;
}

LoopMetrics& LoopMetrics::operator+=(const LoopMetrics& o) noexcept {
  open_connections += o.open_connections;
  accepted += o.accepted;
  dialed += o.dialed;
  closed += o.closed;
  closed_with_error += o.closed_with_error;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  messages_in += o.messages_in;
  messages_out += o.messages_out;
  queued_output_bytes += o.queued_output_bytes;
  paused_connections += o.paused_connections;
  emfile_episodes += o.emfile_episodes;
  tasks_run += o.tasks_run;
  datagrams_dropped += o.datagrams_dropped;
  turn_time += o.turn_time;
  return *this;
}

LoopMetrics Loop::metrics() const noexcept {
  const auto* loop = static_cast<const detail::EventLoop*>(this);
  return loop->counters().read(loop->index());
}

EngineMetrics Engine::metrics() const {
  auto& engine = const_cast<detail::EngineCore&>(static_cast<const detail::EngineCore&>(*this));
  EngineMetrics m;
  m.loops.reserve(static_cast<std::size_t>(engine.loop_count()));
  for (int i = 0; i < engine.loop_count(); ++i) {
    m.loops.push_back(engine.loop_at(i).metrics());
    m.total += m.loops.back();
  }
  return m;
}

}  // namespace gnet

namespace gnet::detail {

LoopMetrics LoopCounters::read(int loop) const noexcept {
  constexpr auto r = std::memory_order_relaxed;
  LoopMetrics m;
  m.loop = loop;
  m.open_connections = open.load(r);
  m.accepted = accepted.load(r);
  m.dialed = dialed.load(r);
  m.closed = closed.load(r);
  m.closed_with_error = closed_error.load(r);
  m.bytes_in = bytes_in.load(r);
  m.bytes_out = bytes_out.load(r);
  m.messages_in = messages_in.load(r);
  m.messages_out = messages_out.load(r);
  m.queued_output_bytes = queued.load(r);
  m.paused_connections = paused.load(r);
  m.emfile_episodes = emfile.load(r);
  m.tasks_run = tasks.load(r);
  m.datagrams_dropped = datagrams_dropped.load(r);
  for (std::size_t i = 0; i < m.turn_time.buckets.size(); ++i) m.turn_time.buckets[i] = turn_buckets[i].load(r);
  m.turn_time.sum_ns = turn_sum_ns.load(r);
  return m;
}

}  // namespace gnet::detail
