// Metrics over real sockets: known traffic in, exact counts out, read from the test's thread
// while the engine runs. Before each snapshot a barrier task is posted to every loop and waited
// for: everything the loop did before it (a callback that wrote, a close) is then counted, so
// the counts are exact and no sleep decides anything. The barriers are mailbox items, and are
// counted in tasks_run like any other. The one thing that moves after a barrier is output the
// kernel is still taking (a flood into a small window): bytes_out and queued_output_bytes then
// move together, and are compared as a pair only in a snapshot taken on the loop's thread.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kFlood = 1 << 20;

// Echoes, except for three commands: "pause" (pause reading, answer "paused"), "flood" (write
// kFlood bytes at once) and "throw" (the handler throws: the connection closes with an error).
struct Server : EventHandler {
  std::atomic<int> closed{0};
  std::mutex mu;
  std::vector<ConnHandle> paused;

  Action on_traffic(Conn& c) override {
    std::string in(c.next());
    if (in == "pause") {
      c.pause_read();
      {
        std::lock_guard lock(mu);
        paused.push_back(c.handle());
      }
      c.write("paused");
    } else if (in == "flood") {
      c.write(std::string(kFlood, 'f'));
    } else if (in == "throw") {
      throw std::runtime_error("metrics test: a handler that throws");
    } else {
      c.write(in);
    }
    return Action::none;
  }
  Action on_close(Conn&, std::error_code) override {
    ++closed;
    return Action::none;
  }
};

// A snapshot taken by a task on the loop's own thread: no counter moves while it is read, so
// pairs of fields agree exactly (bytes_out + queued_output_bytes while output drains). The task
// is a mailbox item, counted before it runs: its own snapshot includes it.
LoopMetrics snapshot_on_loop(Engine& engine, int index) {
  auto p = std::make_shared<std::promise<LoopMetrics>>();
  auto f = p->get_future();
  EXPECT_FALSE(engine.post(index, [p, &engine, index] { p->set_value(engine.loop(index).metrics()); }));
  EXPECT_EQ(f.wait_for(20s), std::future_status::ready);
  return f.get();
}

// Runs an empty task on every loop and waits for each; returns how many it posted per loop.
int barrier(Engine& engine) {
  std::vector<std::future<void>> done;
  for (int i = 0; i < engine.num_loops(); ++i) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    EXPECT_FALSE(engine.post(i, [p] { p->set_value(); }));
  }
  for (auto& f : done) EXPECT_EQ(f.wait_for(20s), std::future_status::ready);
  return 1;
}

int connect_small_window(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw std::runtime_error("connect");
  return fd;
}

// Message j of client i: its size is known, so are the byte counts.
std::string message(int i, int j) { return random_bytes(1 + static_cast<std::size_t>((i * 7 + j * 131) % 1000), 100 * i + j); }

// Every field but the histogram (which moves with every turn) is equal; with `draining`, output
// may still be leaving, so bytes_out and queued_output_bytes are left out.
void expect_same_counts(const LoopMetrics& a, const LoopMetrics& b, bool draining = false) {
  EXPECT_EQ(a.open_connections, b.open_connections);
  EXPECT_EQ(a.accepted, b.accepted);
  EXPECT_EQ(a.dialed, b.dialed);
  EXPECT_EQ(a.closed, b.closed);
  EXPECT_EQ(a.closed_with_error, b.closed_with_error);
  EXPECT_EQ(a.bytes_in, b.bytes_in);
  if (!draining) {
    EXPECT_EQ(a.bytes_out, b.bytes_out);
    EXPECT_EQ(a.queued_output_bytes, b.queued_output_bytes);
  }
  EXPECT_EQ(a.messages_in, b.messages_in);
  EXPECT_EQ(a.messages_out, b.messages_out);
  EXPECT_EQ(a.paused_connections, b.paused_connections);
  EXPECT_EQ(a.emfile_episodes, b.emfile_episodes);
  EXPECT_EQ(a.tasks_run, b.tasks_run);
}

}  // namespace

// One loop: every figure is exact.
TEST(Metrics, ExactCountsOnOneLoop) {
  Server h;
  Options options;
  options.socket_send_buffer = 4096;           // with the client's small window: the flood queues
  options.write_buffer_cap = 8 * kFlood;       // ... without passing the high-water mark
  options.logger = [](LogLevel, std::string_view) {};  // the throwing handler logs an error
  ServerThread server(h, "tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server.ok());
  Engine& engine = server.engine();

  EngineMetrics start = engine.metrics();
  ASSERT_EQ(start.loops.size(), 1u);
  EXPECT_EQ(start.loops[0].loop, 0);
  EXPECT_EQ(start.total.loop, -1);
  EXPECT_EQ(start.total.accepted, 0u);
  EXPECT_EQ(start.total.bytes_in, 0u);

  // N echo clients, M messages each, in lockstep (one read, one on_traffic per message).
  constexpr int kClients = 4, kMessages = 5;
  std::uint64_t echoed = 0;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(connect_tcp(server.port()));
  for (int j = 0; j < kMessages; ++j) {
    for (int i = 0; i < kClients; ++i) {
      std::string m = message(i, j);
      send_all(clients[static_cast<std::size_t>(i)], m);
      ASSERT_EQ(recv_exact(clients[static_cast<std::size_t>(i)], m.size()), m);
      echoed += m.size();
    }
  }
  // One connection paused by its handler.
  int pauser = connect_tcp(server.port());
  send_all(pauser, "pause");
  ASSERT_EQ(recv_exact(pauser, 6), "paused");
  // One connection with output the kernel cannot take yet.
  int flooded = connect_small_window(server.port());
  send_all(flooded, "flood");
  // Posted tasks: through the engine and through the loop.
  constexpr int kTasks = 7;
  std::atomic<int> ran{0};
  for (int t = 0; t < kTasks; ++t) {
    auto ec = t % 2 == 0 ? engine.post(0, [&] { ++ran; }) : engine.loop(0).post([&] { ++ran; });
    ASSERT_FALSE(ec);
  }
  // The flood is written once its request has been handled (the barrier then makes sure all
  // of that callback's work is counted).
  ASSERT_TRUE(eventually([&] { return engine.metrics().total.messages_out == kClients * kMessages + 2u; }));
  int barriers = barrier(engine);
  ASSERT_EQ(ran.load(), kTasks);

  const std::uint64_t written = echoed + 6 + kFlood;
  EngineMetrics m = engine.metrics();  // from this (not the loop's) thread
  ASSERT_EQ(m.loops.size(), 1u);
  const LoopMetrics& l = m.loops[0];
  EXPECT_EQ(l.loop, 0);
  EXPECT_EQ(l.open_connections, kClients + 2u);
  EXPECT_EQ(l.accepted, kClients + 2u);
  EXPECT_EQ(l.dialed, 0u);
  EXPECT_EQ(l.closed, 0u);
  EXPECT_EQ(l.closed_with_error, 0u);
  EXPECT_EQ(l.bytes_in, echoed + 5 + 5);
  EXPECT_EQ(l.messages_in, kClients * kMessages + 2u);
  EXPECT_EQ(l.messages_out, kClients * kMessages + 2u);  // the echoes, "paused", the flood
  // The kernel may still be taking the flood while this is read: the two move together.
  EXPECT_GE(l.bytes_out, echoed + 6);
  EXPECT_LE(l.bytes_out, written);
  EXPECT_GT(l.queued_output_bytes, 0u) << "a 4 KiB window cannot have taken 1 MiB";
  EXPECT_LE(l.queued_output_bytes, kFlood);
  EXPECT_EQ(l.paused_connections, 1u);
  EXPECT_EQ(l.emfile_episodes, 0u);
  EXPECT_EQ(l.tasks_run, static_cast<std::uint64_t>(kTasks + barriers));
  EXPECT_GT(l.turn_time.count(), 0u);
  expect_same_counts(m.total, l);
  expect_same_counts(engine.loop(0).metrics(), l, true);
  // Read on the loop's thread, the pair agrees to the byte.
  LoopMetrics still = snapshot_on_loop(engine, 0);
  ++barriers;
  EXPECT_EQ(still.bytes_out + still.queued_output_bytes, written);
  EXPECT_GT(still.queued_output_bytes, 0u);
  EXPECT_EQ(still.tasks_run, static_cast<std::uint64_t>(kTasks + barriers));

  // The flood drains once read; the paused connection is closed through its handle (a mailbox
  // item); a handler that throws closes its connection with an error; the rest close cleanly.
  EXPECT_EQ(recv_exact(flooded, kFlood), std::string(kFlood, 'f'));
  {
    std::lock_guard lock(h.mu);
    ASSERT_EQ(h.paused.size(), 1u);
    ASSERT_FALSE(h.paused[0].close());
  }
  int thrower = connect_tcp(server.port());
  send_all(thrower, "throw");
  EXPECT_TRUE(wait_closed(thrower));
  EXPECT_TRUE(wait_closed(pauser));
  close_fd(thrower);
  close_fd(pauser);
  close_fd(flooded);
  for (int fd : clients) close_fd(fd);
  ASSERT_TRUE(eventually([&] { return h.closed.load() == kClients + 3; }));
  barriers += barrier(engine);

  LoopMetrics end = engine.loop(0).metrics();
  EXPECT_EQ(end.open_connections, 0u);
  EXPECT_EQ(end.accepted, kClients + 3u);
  EXPECT_EQ(end.closed, kClients + 3u);
  EXPECT_EQ(end.closed_with_error, 1u);
  EXPECT_EQ(end.bytes_in, echoed + 5 + 5 + 5);
  EXPECT_EQ(end.messages_in, kClients * kMessages + 3u);
  EXPECT_EQ(end.messages_out, kClients * kMessages + 2u);
  EXPECT_EQ(end.bytes_out, written);
  EXPECT_EQ(end.queued_output_bytes, 0u);
  EXPECT_EQ(end.paused_connections, 0u);
  EXPECT_EQ(end.tasks_run, static_cast<std::uint64_t>(kTasks + barriers + 1));  // + the handle's close
  EXPECT_GE(end.turn_time.count(), l.turn_time.count());
}

// Backpressure pauses count too: a connection past the high-water mark is paused until its
// output drains.
TEST(Metrics, BackpressureCountsAsPaused) {
  Server h;
  Options options;
  options.socket_send_buffer = 4096;
  options.write_buffer_cap = 64 * 1024;  // the flood passes it
  ServerThread server(h, "tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server.ok());
  int fd = connect_small_window(server.port());
  send_all(fd, "flood");
  ASSERT_TRUE(eventually([&] { return server.engine().metrics().total.messages_out == 1; }));
  // Read on the loop's thread: the flood may still be leaving, and the pair must agree.
  LoopMetrics m = snapshot_on_loop(server.engine(), 0);
  EXPECT_EQ(m.paused_connections, 1u);
  EXPECT_GT(m.queued_output_bytes, 0u);
  EXPECT_EQ(m.bytes_out + m.queued_output_bytes, kFlood);
  EXPECT_EQ(recv_exact(fd, kFlood), std::string(kFlood, 'f'));
  barrier(server.engine());
  m = server.engine().loop(0).metrics();
  EXPECT_EQ(m.paused_connections, 0u);
  EXPECT_EQ(m.queued_output_bytes, 0u);
  EXPECT_EQ(m.bytes_out, kFlood);
  close_fd(fd);
}

// Two loops behind one listener: the totals are exact, each loop counts its own connections,
// and a connection handed from the listener's loop to the other is a mailbox item there. A dial
// from loop 0 counts as dialed on loop 0 and as accepted where the balancer put its other end.
TEST(Metrics, TwoLoopsSumToTheTotal) {
  Server h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 2});
  ASSERT_TRUE(server.ok());
  Engine& engine = server.engine();
  constexpr int kClients = 6;
  std::uint64_t echoed = 0;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect_tcp(server.port()));
    std::string m = message(i, 0);
    send_all(clients.back(), m);
    ASSERT_EQ(recv_exact(clients.back(), m.size()), m);
    echoed += m.size();
  }
  std::promise<std::error_code> dialed;
  const std::string self = "tcp://127.0.0.1:" + std::to_string(server.port());
  ASSERT_FALSE(engine.post(0, [&] {
    engine.loop(0).dial(self, 5s, [&](std::error_code ec, ConnHandle) { dialed.set_value(ec); });
  }));
  auto dial_result = dialed.get_future();
  ASSERT_EQ(dial_result.wait_for(20s), std::future_status::ready);
  ASSERT_FALSE(dial_result.get());
  ASSERT_TRUE(eventually([&] { return engine.metrics().total.accepted == kClients + 1u; }));
  int barriers = barrier(engine);

  EngineMetrics m = engine.metrics();
  ASSERT_EQ(m.loops.size(), 2u);
  EXPECT_EQ(m.total.accepted, kClients + 1u);
  EXPECT_EQ(m.total.dialed, 1u);
  EXPECT_EQ(m.loops[0].dialed, 1u);
  EXPECT_EQ(m.loops[1].dialed, 0u);
  EXPECT_EQ(m.total.open_connections, kClients + 2u);
  EXPECT_EQ(m.total.bytes_in, echoed);
  EXPECT_EQ(m.total.bytes_out, echoed);
  EXPECT_EQ(m.total.messages_in, static_cast<std::uint64_t>(kClients));
  EXPECT_EQ(m.total.messages_out, static_cast<std::uint64_t>(kClients));
  EXPECT_GT(m.loops[0].accepted, 0u);
  EXPECT_GT(m.loops[1].accepted, 0u) << "round robin puts connections on both loops";
  // Loop 0 runs the listener: what lands on loop 1 came through its mailbox.
  EXPECT_EQ(m.loops[0].tasks_run, 1u + barriers);  // the dial task
  EXPECT_EQ(m.loops[1].tasks_run, m.loops[1].accepted + barriers);
  LoopMetrics sum = m.loops[0];
  sum += m.loops[1];
  sum.loop = -1;
  expect_same_counts(sum, m.total);
  EXPECT_EQ(sum.turn_time.count(), m.total.turn_time.count());
  EXPECT_EQ(sum.turn_time.sum_ns, m.total.turn_time.sum_ns);
  for (int fd : clients) close_fd(fd);
}
