// Bounded memory with pipelining: a handler stops producing while the outbound queue is full and
// is handed its unconsumed input again once the queue drains; unconsumed input has a bound of its
// own; and a callback's view of the loop's read buffer survives whatever it does to other
// connections. Each runs level- and edge-triggered.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

class Backpressure : public ::testing::TestWithParam<bool> {
 protected:
  bool edge() const { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Modes, Backpressure, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "edge" : "level"; });

}  // namespace

// A's on_traffic closes B, whose unread bytes wait in the kernel (B is paused). The close drains
// them so the close is a FIN; A's view into the loop's read buffer must still show A's bytes.
TEST_P(Backpressure, ClosingAnotherConnectionKeepsThisCallbacksView) {
  struct Handler : EventHandler {
    std::atomic<int> opened{0};
    ConnHandle victim;  // loop thread only
    Action on_open(Conn& c) override {
      if (opened++ == 0) {
        victim = c.handle();
        c.pause_read();  // B's bytes stay in the kernel until the close drains them
      }
      return Action::none;
    }
    Action on_traffic(Conn& c) override {
      std::string_view view = c.peek();
      if (Conn* b = c.loop().lookup(victim)) b->close();
      c.write(view);
      c.discard(view.size());
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.edge_triggered_io = edge()});
  ASSERT_TRUE(server.ok());
  int b = connect_tcp(server.port());
  ASSERT_TRUE(eventually([&] { return h.opened.load() == 1; }));
  send_all(b, std::string(48 * 1024, 'B'));
  int a = connect_tcp(server.port());
  const std::string mine = random_bytes(4000, 12);
  send_all(a, mine);
  EXPECT_EQ(recv_exact(a, mine.size()), mine) << "A's echo carried another connection's bytes";
  EXPECT_TRUE(wait_closed(b));
  close_fd(a);
  close_fd(b);
}

// 100 000 pipelined requests from a client that reads nothing until it has sent them all. The
// handler answers only while the queue is under the cap, so the server never holds more than
// cap + one reply of output, and every request is still answered, in order, without the client
// sending another byte after its last request.
TEST_P(Backpressure, PipelinedRequestsFromALateReaderAreAllAnsweredWithinTheCap) {
  constexpr std::size_t kCap = 64 * 1024;
  constexpr std::size_t kRequests = 100'000;
  constexpr std::size_t kRequestSize = 8;  // "%07zu\n"
  constexpr std::size_t kReplySize = 256;
  struct Handler : EventHandler {
    std::atomic<std::size_t> max_queued{0};
    std::atomic<std::size_t> answered{0};
    std::atomic<int> stopped_full{0};
    bool started = false;  // loop thread only
    Action on_traffic(Conn& c) override {
      // Start answering once every request is buffered: from then on no byte arrives that
      // could trigger another on_traffic, so only the engine's redelivery can finish the job.
      if (!started && c.inbound_buffered() < kRequests * kRequestSize) return Action::none;
      started = true;
      for (;;) {
        if (c.outbound_full()) {
          ++stopped_full;
          break;
        }
        std::string_view request = c.peek(kRequestSize);
        if (request.size() < kRequestSize) break;
        std::string reply(kReplySize, '.');
        std::memcpy(reply.data(), request.data(), kRequestSize - 1);
        reply.back() = '\n';
        c.discard(kRequestSize);
        ++answered;  // before the write: the client may read this reply and check at once
        c.write(reply);
        if (c.outbound_buffered() > max_queued) max_queued = c.outbound_buffered();
      }
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.write_buffer_cap = kCap, .edge_triggered_io = edge()});
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  // Room in the client's own send buffer for every request, so sending never waits on the server.
  int big = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  std::string requests;
  for (std::size_t i = 0; i < kRequests; ++i) {
    char line[16];
    std::snprintf(line, sizeof line, "%07zu\n", i);
    requests += line;
  }
  send_all(fd, requests);
  // The replies (25 MiB) outgrow every kernel buffer on the way, so the server fills its queue
  // and stops; only then does the client start reading.
  ASSERT_TRUE(eventually([&] { return h.stopped_full.load() > 0; }, std::chrono::seconds(60)));
  // Now read. A stall (the server waiting for a byte that never comes) fails recv_exact.
  for (std::size_t i = 0; i < kRequests; i += 1000) {
    std::string got = recv_exact(fd, 1000 * kReplySize);
    for (std::size_t k = 0; k < 1000; ++k) {
      std::string_view reply(got.data() + k * kReplySize, kReplySize);
      ASSERT_EQ(reply.substr(0, kRequestSize - 1), std::string_view(requests).substr((i + k) * kRequestSize, 7));
      ASSERT_EQ(reply.find_first_not_of('.', kRequestSize - 1), kReplySize - 1);
    }
  }
  EXPECT_EQ(h.answered.load(), kRequests);
  EXPECT_LE(h.max_queued.load(), kCap + kReplySize);
  close_fd(fd);
}

// resume_read() with input still buffered hands it over at once, with no new byte from the peer.
TEST_P(Backpressure, ResumeReadRedeliversBufferedInput) {
  struct Handler : EventHandler {
    std::atomic<int> calls{0};
    Action on_traffic(Conn& c) override {
      if (calls++ == 0) {
        c.write(c.next(5));
        c.pause_read();
        ConnHandle self = c.handle();
        Loop& loop = c.loop();
        loop.run_after(std::chrono::milliseconds(20), [&loop, self] {
          if (Conn* again = loop.lookup(self)) again->resume_read();
        });
      } else {
        c.write(c.next());
      }
      return Action::none;
    }
  } h;
  ServerThread server(h, "tcp://127.0.0.1:0", {.edge_triggered_io = edge()});
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  send_all(fd, "hello world");
  EXPECT_EQ(recv_exact(fd, 11), "hello world");
  EXPECT_EQ(h.calls.load(), 2);
  close_fd(fd);
}

// A handler that never consumes: the connection is closed with Errc::inbound_limit once its
// unconsumed input passes the bound, and it never held more than bound + one read.
TEST_P(Backpressure, UnconsumedInputPastTheLimitClosesWithANamedError) {
  constexpr std::size_t kLimit = 256 * 1024;
  constexpr std::size_t kReadBuf = 16 * 1024;
  struct Handler : EventHandler {
    std::atomic<std::size_t> max_held{0};
    std::promise<std::error_code> closed;
    Action on_traffic(Conn& c) override {
      if (c.inbound_buffered() > max_held) max_held = c.inbound_buffered();
      return Action::none;
    }
    Action on_close(Conn&, std::error_code ec) override {
      closed.set_value(ec);
      return Action::none;
    }
  } h;
  auto closed = h.closed.get_future();
  ServerThread server(h, "tcp://127.0.0.1:0",
                      {.read_buffer_cap = kReadBuf, .max_inbound_buffered = kLimit, .edge_triggered_io = edge()});
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  std::thread writer([&] {
    try {
      send_all(fd, std::string(4 << 20, 'x'));
    } catch (const std::exception&) {
      // the server closed mid-send: expected
    }
  });
  ASSERT_EQ(closed.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(closed.get(), make_error_code(Errc::inbound_limit));
  EXPECT_GT(h.max_held.load(), kLimit - kReadBuf);
  EXPECT_LE(h.max_held.load(), kLimit + kReadBuf);
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  close_fd(fd);
}

// A connection that has shut its own write side and paused its reading hears the peer send its
// last bytes and its FIN: with both directions ended and nothing read, the kernel reports a
// hang-up (no error). That is no reset: once reading resumes, every byte and then the end
// arrive, and on_close has no error.
TEST_P(Backpressure, PausedHalfClosedConnectionKeepsThePeersLastBytes) {
  // Small enough to sit whole in the client's receive buffer, so the FIN arrives while paused.
  const std::string last_words = random_bytes(32 * 1024, 77);
  struct Speaker : EventHandler {
    const std::string* words;
    std::atomic<int> closed{0};
    Action on_open(Conn& c) override {
      c.write(*words);
      return Action::close;  // the FIN follows the bytes
    }
    Action on_close(Conn&, std::error_code) override {
      ++closed;
      return Action::none;
    }
  } speaker;
  speaker.words = &last_words;
  ServerThread server(speaker, "tcp://127.0.0.1:0", {.edge_triggered_io = edge()});
  ASSERT_TRUE(server.ok());

  struct Listener : EventHandler {
    std::mutex mu;
    std::string got;
    std::promise<std::error_code> closed;
    std::atomic<bool> eof{false};
    Action on_open(Conn& c) override {
      c.shutdown_write();  // nothing to say
      c.pause_read();      // and not listening yet
      return Action::none;
    }
    Action on_traffic(Conn& c) override {
      std::lock_guard lock(mu);
      got.append(c.next());
      return Action::none;
    }
    Action on_eof(Conn&) override {
      eof = true;
      return Action::none;  // our side is shut already: the connection then closes
    }
    Action on_close(Conn&, std::error_code ec) override {
      closed.set_value(ec);
      return Action::none;
    }
  } listener;
  Client client(listener, {.edge_triggered_io = edge()});
  ASSERT_TRUE(client.start());
  auto h = client.dial_sync("tcp://127.0.0.1:" + std::to_string(server.port()), std::chrono::seconds(10));
  ASSERT_TRUE(h) << h.error().message();
  // The server is done (all written, FIN sent) while the client still reads nothing; a few
  // turns of the client's loop pass with the hang-up pending.
  ASSERT_TRUE(eventually([&] { return speaker.closed.load() == 1; }, std::chrono::seconds(30)));
  Loop& loop = client.engine().loop(h->loop_index());
  ASSERT_TRUE(let_loop_turn(loop, 20));
  ASSERT_TRUE(run_on_loop(loop, [&] {
    if (Conn* c = loop.lookup(*h)) c->resume_read();
  }));
  auto closed = listener.closed.get_future();
  ASSERT_EQ(closed.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_FALSE(closed.get()) << "a clean end was reported as an error";
  EXPECT_TRUE(listener.eof.load());
  std::lock_guard lock(listener.mu);
  EXPECT_EQ(listener.got.size(), last_words.size());
  EXPECT_TRUE(listener.got == last_words);
  client.stop();
}
