// Engine behaviour over real sockets: actions, greeting, counts, ticker, stop, errors.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

struct Recorder : EventHandler {
  std::atomic<int> opened{0}, closed{0}, shutdowns{0};
  std::mutex mu;
  std::vector<std::error_code> close_errors;
  Action on_open(Conn&) override {
    ++opened;
    return Action::none;
  }
  Action on_close(Conn&, std::error_code ec) override {
    std::lock_guard lock(mu);
    close_errors.push_back(ec);
    ++closed;
    return Action::none;
  }
  void on_shutdown(Engine&) override { ++shutdowns; }
};

}  // namespace

TEST(Engine, OnOpenGreetingArrivesFirst) {
  struct Greeter : Recorder {
    Action on_open(Conn& c) override {
      Recorder::on_open(c);
      c.write("hello " + c.remote_addr().ip() + "\n");
      return Action::none;
    }
    Action on_traffic(Conn& c) override {
      c.write(c.next());
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  EXPECT_EQ(recv_exact(fd, 16), "hello 127.0.0.1\n");
  send_all(fd, "ping");
  EXPECT_EQ(recv_exact(fd, 4), "ping");
  close_fd(fd);
}

TEST(Engine, ActionCloseFlushesThenClosesOnlyThatConnection) {
  struct Closer : Recorder {
    Action on_traffic(Conn& c) override {
      std::string in(c.next());
      c.write("bye:" + in);
      return in == "quit" ? Action::close : Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int keep = connect_tcp(server.port());
  int quit = connect_tcp(server.port());
  send_all(quit, "quit");
  EXPECT_EQ(recv_exact(quit, 8), "bye:quit");
  EXPECT_TRUE(wait_closed(quit));
  send_all(keep, "more");
  EXPECT_EQ(recv_exact(keep, 8), "bye:more");
  EXPECT_TRUE(eventually([&] { return h.closed == 1; }));
  {
    std::lock_guard lock(h.mu);
    EXPECT_FALSE(h.close_errors[0]) << "a local close reports no error";
  }
  close_fd(quit);
  close_fd(keep);
}

TEST(Engine, ActionShutdownStopsRunAndClosesEveryConnection) {
  struct Stopper : Recorder {
    Action on_traffic(Conn& c) override { return c.next() == "stop" ? Action::shutdown : Action::none; }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 2});
  ASSERT_TRUE(server.ok());
  std::vector<int> fds;
  for (int i = 0; i < 6; ++i) fds.push_back(connect_tcp(server.port()));
  ASSERT_TRUE(eventually([&] { return h.opened == 6; }));
  send_all(fds[3], "stop");
  ASSERT_TRUE(server.join());
  EXPECT_EQ(h.closed, 6);
  EXPECT_EQ(h.shutdowns, 1);
  for (int fd : fds) {
    EXPECT_TRUE(wait_closed(fd));
    close_fd(fd);
  }
}

TEST(Engine, CountsConnectionsAcrossLoops) {
  Recorder h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 3});
  ASSERT_TRUE(server.ok());
  std::vector<int> fds;
  for (int i = 0; i < 9; ++i) fds.push_back(connect_tcp(server.port()));
  ASSERT_TRUE(eventually([&] { return h.opened == 9; }));
  EXPECT_EQ(server.engine().count_connections(), 9u);
  for (int i = 0; i < 4; ++i) close_fd(fds[static_cast<std::size_t>(i)]);
  ASSERT_TRUE(eventually([&] { return h.closed == 4; }));
  // A connection leaves the count just after its on_close returns, on its loop's thread: from
  // here it may still be counted for a moment (a TSan run saw 6), never fewer than 5.
  EXPECT_GE(server.engine().count_connections(), 5u);
  EXPECT_TRUE(eventually([&] { return server.engine().count_connections() == 5u; }));
  for (std::size_t i = 4; i < fds.size(); ++i) close_fd(fds[i]);
}

TEST(Engine, TickerFiresAfterBootThenAfterEachDelayUntilShutdown) {
  struct Ticker : Recorder {
    std::atomic<int> ticks{0};
    std::atomic<bool> booted{false};
    std::atomic<bool> tick_before_boot{false};
    Action on_boot(Engine&) override {
      booted = true;
      return Action::none;
    }
    TickResult on_tick() override {
      if (!booted) tick_before_boot = true;
      int n = ++ticks;
      return {5ms, n == 5 ? Action::shutdown : Action::none};
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.ticker = true});
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(server.join());
  EXPECT_EQ(h.ticks, 5);
  EXPECT_FALSE(h.tick_before_boot);
  EXPECT_EQ(h.shutdowns, 1);
}

TEST(Engine, StopFromAnotherThreadWhileTrafficFlows) {
  struct Echo : Recorder {
    Action on_traffic(Conn& c) override {
      c.write(c.next());
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.num_event_loop = 2});
  ASSERT_TRUE(server.ok());
  std::atomic<bool> quit{false};
  std::vector<std::thread> clients;
  std::atomic<long> echoed{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, port = server.port()] {
      int fd = connect_tcp(port);
      std::string msg = random_bytes(4096, 1);
      char buf[4096];
      while (!quit) {
        if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) <= 0) break;
        std::size_t got = 0;
        while (got < msg.size()) {
          ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) break;
          got += static_cast<std::size_t>(n);
        }
        if (got < msg.size()) break;  // server closed us: expected after stop
        echoed += static_cast<long>(got);
      }
      ::close(fd);
    });
  }
  // Every client accepted first: a connection still in the listen backlog when stop() runs is
  // never opened (the listener closes), which is right but not what this test counts.
  ASSERT_TRUE(eventually([&] { return h.opened == 8 && echoed > 1'000'000; }));
  std::thread stopper([&] { server.engine().stop(); });
  ASSERT_TRUE(server.join());
  stopper.join();
  quit = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(h.opened, 8);
  EXPECT_EQ(h.closed, 8);
  EXPECT_EQ(h.shutdowns, 1);
}

TEST(Engine, HandlerExceptionClosesThatConnectionAndLoopSurvives) {
  struct Thrower : Recorder {
    Action on_traffic(Conn& c) override {
      std::string in(c.next());
      if (in == "boom") throw std::runtime_error("boom");
      c.write(in);
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int bad = connect_tcp(server.port());
  int good = connect_tcp(server.port());
  send_all(bad, "boom");
  EXPECT_TRUE(wait_closed(bad));
  send_all(good, "fine");
  EXPECT_EQ(recv_exact(good, 4), "fine");
  ASSERT_TRUE(eventually([&] { return h.closed == 1; }));
  {
    std::lock_guard lock(h.mu);
    EXPECT_EQ(h.close_errors[0], Errc::handler_exception);
  }
  close_fd(bad);
  close_fd(good);
}

TEST(Engine, PeerHalfCloseStillGetsEveryEchoedByte) {
  struct Echo : Recorder {
    Action on_traffic(Conn& c) override {
      c.write(c.next());
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  std::string msg = random_bytes(3 << 20, 9);
  std::thread writer([&] {
    send_all(fd, msg);
    ::shutdown(fd, SHUT_WR);
  });
  EXPECT_EQ(recv_exact(fd, msg.size()), msg);
  writer.join();
  EXPECT_TRUE(wait_closed(fd));
  ASSERT_TRUE(eventually([&] { return h.closed == 1; }));
  {
    std::lock_guard lock(h.mu);
    EXPECT_FALSE(h.close_errors[0]) << "a clean EOF reports no error";
  }
  close_fd(fd);
}

TEST(Engine, PeerResetReportsConnectionReset) {
  Recorder h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] { return h.opened == 1; }));
  ::linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd);  // RST
  ASSERT_TRUE(eventually([&] { return h.closed == 1; }));
  std::lock_guard lock(h.mu);
  EXPECT_EQ(h.close_errors[0], std::errc::connection_reset);
}

TEST(Engine, BindToPortInUseReturnsErrorNamingAddressAndReason) {
  Recorder h;
  ServerThread first(h, "tcp://127.0.0.1:0", {.reuse_addr = false});
  ASSERT_TRUE(first.ok());
  std::string addr = "tcp://127.0.0.1:" + std::to_string(first.port());
  auto r = run(h, addr, {.reuse_addr = false, .logger = null_logger()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::address_in_use);
  EXPECT_EQ(r.error().message(), "bind " + addr + ": Address already in use");
}

TEST(Engine, BadAddressReturnsErrorWithoutStarting) {
  Recorder h;
  auto r = run(h, "tcp://127.0.0.1:99999");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::bad_address);
  EXPECT_EQ(r.error().message(), "bad address \"tcp://127.0.0.1:99999\": port out of range (0-65535)");
  auto r2 = run(h, "tcp://256.1.1.1:80");
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code(), Errc::bad_address);
  EXPECT_EQ(h.opened, 0);
}

TEST(Engine, DupListenerGivesAWorkingCopyOfTheSocket) {
  Recorder h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  auto fd = server.engine().dup_listener(0);
  ASSERT_TRUE(fd) << fd.error().message();
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(fd.value(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
  EXPECT_EQ(ntohs(sa.sin_port), server.port());
  ::close(fd.value());
  auto none = server.engine().dup_listener(5);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "dup_listener: no listener #5");
}

TEST(Engine, ContextIsTypedAndDestroyedWithTheConnection) {
  static std::atomic<int> live{0};
  struct Tracked {
    int value;
    explicit Tracked(int v) : value(v) { ++live; }
    Tracked(const Tracked& o) : value(o.value) { ++live; }
    ~Tracked() { --live; }
  };
  struct Ctx : Recorder {
    Action on_open(Conn& c) override {
      c.set_context(Tracked{41});
      return Recorder::on_open(c);
    }
    Action on_traffic(Conn& c) override {
      c.discard();
      EXPECT_EQ(c.context<std::string>(), nullptr) << "wrong type gives nullptr";
      Tracked* t = c.context<Tracked>();
      c.write(std::to_string(t ? ++t->value : -1));
      return Action::none;
    }
  } h;
  {
    ServerThread server(h, "tcp://127.0.0.1:0");
    ASSERT_TRUE(server.ok());
    int fd = connect_tcp(server.port());
    send_all(fd, "x");
    EXPECT_EQ(recv_exact(fd, 2), "42");
    EXPECT_EQ(live, 1);
    close_fd(fd);
    ASSERT_TRUE(eventually([&] { return h.closed == 1; }));
    EXPECT_EQ(live, 0);
  }
}

// Loop::now() is the time the turn began: the same for the whole callback however long it
// runs, never ahead of the clock, and later in a later turn.
TEST(Engine, LoopNowIsTheTurnTime) {
  struct Stamper : Recorder {
    std::mutex mu;
    std::vector<std::chrono::steady_clock::time_point> turns;
    Action on_traffic(Conn& c) override {
      const auto first = c.loop().now();
      std::this_thread::sleep_for(2ms);  // the true clock moves on; the turn's time does not
      const auto again = c.loop().now();
      const bool ok = first == again && again <= std::chrono::steady_clock::now();
      {
        std::lock_guard lock(mu);
        turns.push_back(first);
      }
      const bool got_a = c.next() == "a";
      c.write(got_a && ok ? "+" : "-");
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  send_all(fd, "a");
  EXPECT_EQ(recv_exact(fd, 1), "+");
  std::this_thread::sleep_for(2ms);  // the next turn begins after this
  send_all(fd, "a");
  EXPECT_EQ(recv_exact(fd, 1), "+");
  close_fd(fd);
  std::lock_guard lock(h.mu);
  ASSERT_EQ(h.turns.size(), 2u);
  EXPECT_LT(h.turns[0], h.turns[1]);
}
