// Options::stop_signals: a signal stops the engine gracefully (queued output delivered, on_close,
// on_shutdown, run() returns), and the signal's previous action is back once run() returns.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "gnet/gnet.hpp"
#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

std::atomic<int> g_marker_calls{0};
void marker_handler(int) { ++g_marker_calls; }

struct Greeter : EventHandler {
  std::string greeting = random_bytes(256 << 10, 9);  // more than one write's worth
  std::atomic<int> opened{0}, closed{0}, shutdowns{0};
  Action on_open(Conn& c) override {
    c.write(greeting);
    ++opened;
    return Action::none;
  }
  Action on_close(Conn&, std::error_code) override {
    ++closed;
    return Action::none;
  }
  void on_shutdown(Engine&) override { ++shutdowns; }
};

struct sigaction current_action(int signal) {
  struct sigaction now {};
  ::sigaction(signal, nullptr, &now);
  return now;
}

}  // namespace

TEST(SignalStop, ASignalStopsTheEngineGracefullyAndTheOldActionComesBack) {
  struct sigaction marker {};
  marker.sa_handler = marker_handler;
  sigemptyset(&marker.sa_mask);
  ASSERT_EQ(::sigaction(SIGUSR1, &marker, nullptr), 0);

  Greeter h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.stop_signals = {SIGUSR1}});
  ASSERT_TRUE(server.ok());
  EXPECT_NE(current_action(SIGUSR1).sa_handler, marker_handler);  // the engine's, while it runs
  int fd = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] { return h.opened == 1; }));
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  ASSERT_TRUE(server.join());  // returns on its own: the signal stopped it
  EXPECT_EQ(h.shutdowns, 1);
  EXPECT_EQ(h.closed, 1);
  EXPECT_EQ(g_marker_calls, 0);  // the engine's handler took it, not the old one
  // Everything queued before the stop still arrives, then the end.
  EXPECT_EQ(recv_exact(fd, h.greeting.size()), h.greeting);
  EXPECT_TRUE(wait_closed(fd));
  close_fd(fd);
  // The previous action is back.
  EXPECT_EQ(current_action(SIGUSR1).sa_handler, marker_handler);
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_TRUE(eventually([] { return g_marker_calls == 1; }));
  signal(SIGUSR1, SIG_DFL);
}

TEST(SignalStop, TwoEnginesSharingASignalAreBothStoppedAndLeaveInAnyOrder) {
  ASSERT_NE(signal(SIGUSR2, marker_handler), SIG_ERR);
  g_marker_calls = 0;
  Greeter a, b;
  auto first = std::make_unique<ServerThread>(a, "tcp://127.0.0.1:0", Options{.stop_signals = {SIGUSR2}});
  auto second = std::make_unique<ServerThread>(b, "tcp://127.0.0.1:0", Options{.stop_signals = {SIGUSR2}});
  ASSERT_TRUE(first->ok());
  ASSERT_TRUE(second->ok());
  // The first to start leaves first: the handler must stay for the second.
  ASSERT_TRUE(first->stop());
  EXPECT_NE(current_action(SIGUSR2).sa_handler, marker_handler);
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  ASSERT_TRUE(second->join());
  EXPECT_EQ(b.shutdowns, 1);
  EXPECT_EQ(g_marker_calls, 0);
  EXPECT_EQ(current_action(SIGUSR2).sa_handler, marker_handler);
  signal(SIGUSR2, SIG_DFL);
}

// Engine::stop_and_wait (gnet's Engine.Stop(ctx)): returns once on_shutdown has run; refuses the
// engine's own threads instead of deadlocking; a timeout leaves the stop going on.
TEST(StopAndWait, ReturnsAfterOnShutdownAndRefusesTheEnginesOwnThreads) {
  struct Slow : Greeter {
    std::atomic<Engine*> engine{nullptr};
    std::promise<std::error_code> from_boot, from_loop;
    std::promise<void> release_shutdown;
    std::shared_future<void> may_finish = release_shutdown.get_future().share();
    Action on_boot(Engine& e) override {
      from_boot.set_value(e.stop_and_wait(1ms));
      engine = &e;
      return Action::none;
    }
    Action on_traffic(Conn& c) override {
      c.discard();
      if (c.loop().index() == 0) from_loop.set_value(engine.load()->stop_and_wait(1ms));
      return Action::none;
    }
    void on_shutdown(Engine& e) override {
      may_finish.wait();  // the test decides when on_shutdown may return
      Greeter::on_shutdown(e);
    }
  } h;
  std::promise<Result<void>> ran;
  std::thread runner([&] { ran.set_value(run(h, "tcp://127.0.0.1:0", {.num_event_loop = 2})); });
  ASSERT_TRUE(eventually([&] { return h.engine.load() != nullptr; }));
  Engine& engine = *h.engine.load();
  EXPECT_EQ(h.from_boot.get_future().get(), std::errc::resource_deadlock_would_occur);
  const int port = engine.listen_addresses().front().port();
  int fd = connect_tcp(port);
  EXPECT_EQ(recv_exact(fd, h.greeting.size()), h.greeting);
  send_all(fd, "x");
  EXPECT_EQ(h.from_loop.get_future().get(), std::errc::resource_deadlock_would_occur);
  EXPECT_FALSE(engine.stopping()) << "a refused call does not stop the engine";

  // on_shutdown is held: the wait times out, and the stop goes on.
  EXPECT_EQ(engine.stop_and_wait(20ms), Errc::timed_out);
  EXPECT_TRUE(engine.stopping());
  EXPECT_TRUE(wait_closed(fd));
  close_fd(fd);
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);  // widens the window in which an early return would show
    h.release_shutdown.set_value();
  });
  // A second waiter with no deadline: it returns only after on_shutdown did. `engine` may be
  // destroyed by run() returning while this waits; the wait holds its own state.
  EXPECT_FALSE(engine.stop_and_wait());
  EXPECT_EQ(h.shutdowns, 1) << "stop_and_wait returned before on_shutdown had run";
  EXPECT_EQ(h.closed, 1);
  releaser.join();
  runner.join();
  EXPECT_TRUE(ran.get_future().get());
}
