// Client: dial and enroll with verified bytes, refused and timed-out connects, half-close.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

struct Echo : EventHandler {
  Action on_traffic(Conn& c) override {
    c.write(c.next());
    return Action::none;
  }
};

// Collects everything its connections receive.
struct Collector : EventHandler {
  std::mutex mu;
  std::string received;
  std::atomic<int> opened{0}, closed{0};
  std::atomic<bool> dialed_listener_index_ok{true};
  Action on_open(Conn& c) override {
    if (c.listener_index() != -1) dialed_listener_index_ok = false;
    ++opened;
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    std::lock_guard lock(mu);
    received += c.next();
    return Action::none;
  }
  Action on_close(Conn&, std::error_code) override {
    ++closed;
    return Action::none;
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return received.size();
  }
};

}  // namespace

TEST(Client, DialEchoVerified) {
  Echo echo;
  ServerThread server(echo, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  Collector col;
  Client client(col, {.num_event_loop = 2, .logger = null_logger()});
  ASSERT_TRUE(client.start());
  auto handle = client.dial_sync("tcp://127.0.0.1:" + std::to_string(server.port()), 5s);
  ASSERT_TRUE(handle) << handle.error().message();
  EXPECT_EQ(col.opened, 1);
  EXPECT_TRUE(col.dialed_listener_index_ok);
  std::string msg = random_bytes(5 << 20, 21);
  for (std::size_t off = 0; off < msg.size(); off += 100000) EXPECT_FALSE(handle->async_write(msg.substr(off, 100000)));
  ASSERT_TRUE(eventually([&] { return col.size() == msg.size(); }));
  {
    std::lock_guard lock(col.mu);
    EXPECT_TRUE(col.received == msg);
  }
  EXPECT_EQ(client.engine().count_connections(), 1u);
  client.stop();
  EXPECT_EQ(col.closed, 1);
}

TEST(Client, DialUdpAndUnix) {
  Echo echo;
  char tmpl[] = "/tmp/gnet-client-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  ServerThread server(echo, std::vector<std::string>{"udp://127.0.0.1:0", "unix://" + dir + "/c.sock"});
  ASSERT_TRUE(server.ok());
  Collector col;
  Client client(col);
  ASSERT_TRUE(client.start());
  auto udp = client.dial_sync("udp://127.0.0.1:" + std::to_string(server.port(0)), 5s);
  ASSERT_TRUE(udp) << udp.error().message();
  EXPECT_FALSE(udp->async_write("datagram"));
  ASSERT_TRUE(eventually([&] { return col.size() == 8; }));
  auto unix_conn = client.dial_sync("unix://" + dir + "/c.sock", 5s);
  ASSERT_TRUE(unix_conn) << unix_conn.error().message();
  EXPECT_FALSE(unix_conn->async_write("+unix"));
  ASSERT_TRUE(eventually([&] { return col.size() == 13; }));
  {
    std::lock_guard lock(col.mu);
    EXPECT_EQ(col.received, "datagram+unix");
  }
  client.stop();
  ASSERT_TRUE(server.stop());
  ::rmdir(dir.c_str());
}

TEST(Client, EnrollSocketpairEcho) {
  Echo echo;
  Client client(echo);
  ASSERT_TRUE(client.start());
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto handle = client.enroll(sv[0]);
  ASSERT_TRUE(handle) << handle.error().message();
  std::string msg = random_bytes(1 << 20, 5);
  std::thread w([&] { send_all(sv[1], msg); });
  EXPECT_EQ(recv_exact(sv[1], msg.size()), msg);
  w.join();
  client.stop();  // closes the enrolled end
  EXPECT_TRUE(wait_closed(sv[1]));
  ::close(sv[1]);
}

TEST(Client, RefusedConnectReportsTheReason) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(s);  // a port nobody listens on
  Collector col;
  Client client(col);
  ASSERT_TRUE(client.start());
  auto r = client.dial_sync("tcp://127.0.0.1:" + std::to_string(ntohs(sa.sin_port)), 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::connection_refused);
  EXPECT_EQ(r.error().message(), "dial tcp://127.0.0.1:" + std::to_string(ntohs(sa.sin_port)) + ": Connection refused");
  EXPECT_EQ(col.opened, 0);
  auto bad = client.dial_sync("tcp://nowhere:notaport", 5s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::bad_address);
  client.stop();
  EXPECT_EQ(col.closed, 0) << "no on_close for a connection that never opened";
}

TEST(Client, ConnectTimeoutIsReported) {
  // A listener whose accept queue is full drops further SYNs, so a connect never completes.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(s, 0), 0);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    fillers.push_back(c);
  }
  Collector col;
  Client client(col);
  ASSERT_TRUE(client.start());
  auto r = client.dial_sync("tcp://127.0.0.1:" + std::to_string(ntohs(sa.sin_port)), 300ms);
  if (r) GTEST_SKIP() << "this kernel completed the connect despite the full backlog (syncookies)";
  EXPECT_EQ(r.error().code(), Errc::timed_out);
  client.stop();
  for (int c : fillers) ::close(c);
  ::close(s);
}

TEST(Timers, FireInOrderCancelAndRepeatOnTheLoopThread) {
  Echo echo;
  ServerThread server(echo, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  std::mutex mu;
  std::vector<std::string> order;
  std::promise<void> done;
  Loop& loop = server.engine().loop(0);
  ASSERT_FALSE(server.engine().post(0, [&] {
    auto log = [&](std::string s) {
      std::lock_guard lock(mu);
      EXPECT_TRUE(loop.in_loop_thread());
      order.push_back(std::move(s));
    };
    loop.run_after(30ms, [=] { log("30ms"); });
    loop.run_after(10ms, [=] { log("10ms"); });
    TimerId cancelled = loop.run_after(20ms, [=] { log("cancelled"); });
    EXPECT_TRUE(loop.cancel(cancelled));
    auto count = std::make_shared<int>(0);
    auto id = std::make_shared<TimerId>(0);
    *id = loop.run_every(5ms, [=, &loop, &done] {
      log("every");
      if (++*count == 3) {
        loop.cancel(*id);
        loop.run_after(40ms, [=, &done] {
          log("end");
          done.set_value();
        });
      }
    });
  }));
  done.get_future().wait();
  std::lock_guard lock(mu);
  // The periodic timer's ticks interleave with the one-shots; the one-shots keep their order.
  std::vector<std::string> one_shots;
  int every = 0;
  for (auto& s : order) {
    if (s == "every") ++every;
    else one_shots.push_back(s);
  }
  EXPECT_EQ(every, 3);
  EXPECT_EQ(one_shots, (std::vector<std::string>{"10ms", "30ms", "end"}));
}

TEST(IdleTimeout, ClosesOnlyIdleConnections) {
  struct H : Echo {
    std::mutex mu;
    std::vector<std::pair<int, std::error_code>> closes;  // (fd, error)
    Action on_close(Conn& c, std::error_code ec) override {
      std::lock_guard lock(mu);
      closes.push_back({c.fd(), ec});
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.idle_timeout = 400ms});
  ASSERT_TRUE(server.ok());
  int idle = connect_tcp(server.port());
  int busy = connect_tcp(server.port());
  std::atomic<bool> stop{false};
  std::thread pinger([&] {
    while (!stop) {
      send_all(busy, "p");
      (void)recv_exact(busy, 1);
      std::this_thread::sleep_for(10ms);
    }
  });
  EXPECT_TRUE(wait_closed(idle)) << "the idle connection is closed by the server";
  stop = true;
  pinger.join();
  send_all(busy, "still open");
  EXPECT_EQ(recv_exact(busy, 10), "still open");
  {
    std::lock_guard lock(h.mu);
    ASSERT_EQ(h.closes.size(), 1u);
    EXPECT_EQ(h.closes[0].second, Errc::idle_timeout);
  }
  close_fd(idle);
  close_fd(busy);
}

TEST(HalfClose, OnEofNoneKeepsWritingThenShutdownWriteCloses) {
  struct Summer : EventHandler {
    std::atomic<int> closed{0};
    Action on_traffic(Conn& c) override {
      c.discard();  // count only
      return Action::none;
    }
    Action on_eof(Conn& c) override {
      // The peer is done sending; answer afterwards, then finish our side.
      c.write("answer after your FIN");
      c.shutdown_write();
      return Action::none;
    }
    Action on_close(Conn&, std::error_code ec) override {
      EXPECT_FALSE(ec);
      ++closed;
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  send_all(fd, "question");
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(recv_exact(fd, 21), "answer after your FIN");
  EXPECT_TRUE(wait_closed(fd));
  EXPECT_TRUE(eventually([&] { return h.closed == 1; }));
  close_fd(fd);
}

TEST(ConnHandle, CloseAfterWritesFromTheSameThreadDeliversThemFirst) {
  struct Keeper : Echo {
    std::promise<ConnHandle> handle;
    Action on_open(Conn& c) override {
      handle.set_value(c.handle());
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  ConnHandle handle = h.handle.get_future().get();
  std::string big = random_bytes(3 << 20, 8);
  EXPECT_FALSE(handle.async_write("first;"));
  EXPECT_FALSE(handle.async_write(big));
  EXPECT_FALSE(handle.close());
  EXPECT_EQ(recv_exact(fd, 6), "first;");
  EXPECT_TRUE(recv_exact(fd, big.size()) == big);
  EXPECT_TRUE(wait_closed(fd));
  close_fd(fd);
}

namespace {

// Notes, in on_open, the context each dialed or enrolled connection already carries.
struct ContextProbe : EventHandler {
  std::mutex mu;
  std::vector<std::string> contexts_at_open;
  std::string received;
  std::atomic<int> opened{0};
  Action on_open(Conn& c) override {
    std::lock_guard lock(mu);
    const std::string* ctx = c.context<std::string>();
    contexts_at_open.push_back(ctx != nullptr ? *ctx : "<none>");
    ++opened;
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    std::lock_guard lock(mu);
    // Each reply is tagged with the context of the connection it arrived on.
    received += *c.context<std::string>() + ":" + std::string(c.next()) + ";";
    return Action::none;
  }
};

}  // namespace

TEST(Client, EngineDialFromAnyThreadCarriesItsContextIntoOnOpen) {
  Echo echo;
  ServerThread upstream(echo, "tcp://127.0.0.1:0");
  ASSERT_TRUE(upstream.ok());
  ContextProbe probe;
  ServerThread server(probe, "tcp://127.0.0.1:0", {.num_event_loop = 2});
  ASSERT_TRUE(server.ok());
  const std::string target = "tcp://127.0.0.1:" + std::to_string(upstream.port());
  // Two dials from two threads that are not loop threads.
  std::promise<std::pair<std::error_code, ConnHandle>> first, second;
  std::thread a([&] {
    EXPECT_FALSE(server.engine().dial(target, 5s, [&](std::error_code ec, ConnHandle h) { first.set_value({ec, h}); },
                                      std::string("job-a")));
  });
  std::thread b([&] {
    EXPECT_FALSE(server.engine().dial(target, 5s, [&](std::error_code ec, ConnHandle h) { second.set_value({ec, h}); },
                                      std::string("job-b")));
  });
  a.join();
  b.join();
  auto [ec_a, handle_a] = first.get_future().get();
  auto [ec_b, handle_b] = second.get_future().get();
  ASSERT_FALSE(ec_a) << ec_a.message();
  ASSERT_FALSE(ec_b) << ec_b.message();
  EXPECT_FALSE(handle_a.async_write("ping"));
  EXPECT_FALSE(handle_b.async_write("pong"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(probe.mu);
    return probe.received.size() == std::string("job-a:ping;job-b:pong;").size();
  }));
  std::lock_guard lock(probe.mu);
  std::vector<std::string> seen = probe.contexts_at_open;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"job-a", "job-b"}));
  EXPECT_NE(probe.received.find("job-a:ping;"), std::string::npos) << probe.received;
  EXPECT_NE(probe.received.find("job-b:pong;"), std::string::npos) << probe.received;
}

TEST(Client, EngineDialFailureReachesOnDoneOnly) {
  ContextProbe probe;
  ServerThread server(probe, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  // A port nobody listens on: bind one, note it, close it.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(s);
  std::promise<std::error_code> done;
  EXPECT_FALSE(server.engine().dial("tcp://127.0.0.1:" + std::to_string(ntohs(sa.sin_port)), 5s,
                                    [&](std::error_code ec, ConnHandle) { done.set_value(ec); }, std::string("x")));
  EXPECT_EQ(done.get_future().get(), std::errc::connection_refused);
  EXPECT_EQ(probe.opened, 0);
}

TEST(Client, DialAndEnrollContextsAreSetBeforeOnOpen) {
  Echo echo;
  ServerThread upstream(echo, "tcp://127.0.0.1:0");
  ASSERT_TRUE(upstream.ok());
  ContextProbe probe;
  Client client(probe, {.logger = null_logger()});
  ASSERT_TRUE(client.start());
  std::promise<std::error_code> dialed;
  EXPECT_FALSE(client.dial("tcp://127.0.0.1:" + std::to_string(upstream.port()), 5s,
                           [&](std::error_code ec, ConnHandle) { dialed.set_value(ec); }, std::string("dialed")));
  EXPECT_FALSE(dialed.get_future().get());
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  auto enrolled = client.enroll(pair[0], {.context = std::string("enrolled")});
  ASSERT_TRUE(enrolled) << enrolled.error().message();
  send_all(pair[1], "hi");
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(probe.mu);
    return probe.received == "enrolled:hi;";
  }));
  {
    std::lock_guard lock(probe.mu);
    EXPECT_EQ(probe.contexts_at_open, (std::vector<std::string>{"dialed", "enrolled"}));
  }
  client.stop();
  ::close(pair[1]);
}

namespace {

// Closes every connection it opens, from on_open, and records the order of what it hears.
struct ClosesAtOnce : EventHandler {
  std::mutex mu;
  std::vector<std::string> events;
  void note(std::string what) {
    std::lock_guard lock(mu);
    events.push_back(std::move(what));
  }
  Action on_open(Conn&) override {
    note("open");
    return Action::close;
  }
  Action on_close(Conn&, std::error_code ec) override {
    note(ec ? "close:" + ec.message() : "close");
    return Action::none;
  }
};

}  // namespace

// loop.hpp's contract: once on_open has run, the dial succeeded and on_done hears no error,
// even when on_open closed the connection at once (on_close has run too, the handle is stale).
TEST(Client, DialWhoseOnOpenClosesStillSucceedsOnce) {
  Echo echo;
  ServerThread server(echo, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  ClosesAtOnce probe;
  Client client(probe, {.logger = null_logger()});
  ASSERT_TRUE(client.start());
  std::atomic<int> calls{0};
  std::promise<std::pair<std::error_code, ConnHandle>> done;
  EXPECT_FALSE(client.dial("tcp://127.0.0.1:" + std::to_string(server.port()), 5s, [&](std::error_code ec, ConnHandle h) {
    if (calls++ == 0) done.set_value({ec, h});
    probe.note("done");
  }));
  auto [ec, handle] = done.get_future().get();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(handle.empty()) << "a handle to the connection on_open saw";
  std::promise<std::error_code> late;  // the handle is stale: the connection has closed
  EXPECT_FALSE(handle.async_write("late", [&](std::error_code e) { late.set_value(e); }));
  EXPECT_EQ(late.get_future().get(), Errc::connection_closed);
  client.stop();
  EXPECT_EQ(calls, 1);
  std::lock_guard lock(probe.mu);
  EXPECT_EQ(probe.events, (std::vector<std::string>{"open", "close", "done"}));
}

// enroll keeps the dial's contract: once on_open has run, the enroll succeeded, even when
// on_open closed the connection at once: the handle comes back, stale, after open and close.
TEST(Client, EnrollWhoseOnOpenClosesStillReturnsItsHandle) {
  ClosesAtOnce probe;
  Client client(probe, {.logger = null_logger()});
  ASSERT_TRUE(client.start());
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto handle = client.enroll(sv[0]);
  ASSERT_TRUE(handle) << handle.error().message();
  EXPECT_FALSE(handle->empty()) << "a handle to the connection on_open saw";
  {
    std::lock_guard lock(probe.mu);
    EXPECT_EQ(probe.events, (std::vector<std::string>{"open", "close"}));
  }
  std::promise<std::error_code> late;  // the handle is stale: the connection has closed
  EXPECT_FALSE(handle->async_write("late", [&](std::error_code e) { late.set_value(e); }));
  EXPECT_EQ(late.get_future().get(), Errc::connection_closed);
  EXPECT_TRUE(wait_closed(sv[1]));  // the client closed its end
  ::close(sv[1]);
  client.stop();
}
