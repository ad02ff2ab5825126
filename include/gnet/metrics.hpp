// gnet/metrics.hpp — what the loops have done so far, read as a snapshot from any thread.
//
//   gnet::EngineMetrics m = engine.metrics();           // any thread, while the engine exists
//   std::string text = gnet::to_prometheus(m);          // Prometheus text format 0.0.4
//
// Always on. Each loop keeps its counters in one cache-line-aligned block that only its own
// thread writes (a relaxed load and store, no read-modify-write: a plain add on x86), and readers
// on other threads load them relaxed. So counting costs a few adds per message, and a snapshot
// is a set of loads: each value is exact at some instant, but two values of one snapshot may be
// a few events apart while the loop is busy (a connection counted as accepted but not yet as
// open, a histogram whose sum is one turn ahead of its buckets). Counters only grow (from 0 when
// the engine starts); gauges (open_connections, queued_output_bytes, paused_connections) go up
// and down. See docs/guide.md, "Metrics".
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace gnet {

// Loop turn durations: the time from the kernel's answer (the end of the wait in epoll_wait or
// io_uring_enter) to the end of the turn's work (dispatch, posted tasks, timers, cleanup). Time
// spent waiting is not in it. Buckets are powers of two in microseconds.
struct TurnHistogram {
  // Bucket i (0 <= i < kBounds) counts turns that took more than upper_bound(i - 1) and at most
  // upper_bound(i); bucket kBounds counts those longer than upper_bound(kBounds - 1) (~2.1 s).
  static constexpr int kBounds = 22;
  static constexpr std::chrono::microseconds upper_bound(int i) noexcept {
    return std::chrono::microseconds(std::int64_t{1} << i);
  }

  std::array<std::uint64_t, kBounds + 1> buckets{};  // per bucket, not cumulative
  std::uint64_t sum_ns = 0;                          // total duration of the counted turns

  // Turns counted: the sum of the buckets.
  std::uint64_t count() const noexcept;
  TurnHistogram& operator+=(const TurnHistogram& other) noexcept;
};

// One loop's counters and gauges (or, in EngineMetrics::total, their sums over the loops).
struct LoopMetrics {
  int loop = -1;  // the loop's index; -1 in EngineMetrics::total

  // Connections. accepted: taken from a listener by this loop. dialed: opened outwards from it
  // (Loop::dial, Client::dial) or given to it (Client::enroll). closed: ended, whatever the
  // reason (on_close ran, or the connection never reached on_open: a ?proxy_protocol=1
  // connection without a valid header); closed_with_error: those that ended with an error (a
  // reset, a handler exception, idle timeout, inbound limit, shutdown deadline,
  // bad_proxy_header). open: now.
  std::uint64_t open_connections = 0;  // gauge
  std::uint64_t accepted = 0;
  std::uint64_t dialed = 0;
  std::uint64_t closed = 0;
  std::uint64_t closed_with_error = 0;

  // Traffic. bytes_in: what the kernel handed the loop (TLS: ciphertext; UDP: datagrams).
  // bytes_out: what the kernel accepted from it. messages_in: on_traffic calls that brought the
  // handler input (one read, completion, datagram or decrypted TLS record each; also the call
  // that hands over input held back while paused; not ConnHandle::wake's). messages_out:
  // write()/writev() calls accepted (no error), ConnHandle::async_write(v) included.
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;

  // Output written but not yet taken by the kernel (io_uring: sends in flight included). Gauge.
  std::uint64_t queued_output_bytes = 0;
  // Connections whose reading is held back: by the handler (Conn::pause_read) or by
  // backpressure (more than Options::write_buffer_cap queued). Gauge.
  std::uint64_t paused_connections = 0;
  // Times accepting paused for lack of descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS,
  // ENOMEM): one per episode, however often the retry fails.
  std::uint64_t emfile_episodes = 0;
  // Mailbox items run on this loop: Loop::post and Engine::post tasks, and the library's own
  // cross-thread work (ConnHandle writes, wakes and closes; accepted sockets handed over from
  // another loop's listener).
  std::uint64_t tasks_run = 0;
  // UDP datagrams lost on an unconnected socket, each with a logged reason: received larger than
  // read_buffer_cap (reported as truncated, not delivered), or replies the kernel refused when a
  // batch of them was flushed after the handler had returned (send buffer full, or an error of
  // that one datagram). A reply sent outside a batch reports its error to the caller instead.
  std::uint64_t datagrams_dropped = 0;

  TurnHistogram turn_time;

  // Adds every field but `loop`.
  LoopMetrics& operator+=(const LoopMetrics& other) noexcept;
};

struct EngineMetrics {
  std::vector<LoopMetrics> loops;  // loops[i].loop == i
  LoopMetrics total;               // the sum over loops
};

// The Prometheus text exposition format, version 0.0.4 (Content-Type
// "text/plain; version=0.0.4"): one family per field, named gnet_..., with HELP and TYPE lines
// and a `loop` label per loop (sum over it in a query for the engine's figure); counters end in
// _total; the turn histogram is gnet_loop_turn_duration_seconds (_bucket with cumulative counts
// and le in seconds up to +Inf, _sum, _count). Any thread.
std::string to_prometheus(const EngineMetrics& metrics);
// The same, appended to out (a server can reuse one buffer).
void append_prometheus(std::string& out, const EngineMetrics& metrics);

}  // namespace gnet
