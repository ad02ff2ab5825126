// Pause, resume and partial consumption at random while the peers send and then end: every byte
// reaches the handler once and in order, and on_eof comes once, after the last of them, on each
// backend and transport (TCP, Unix, TLS), whether a pause ends from a timer, a posted task or
// the same callback. The handler's choices are random on purpose (seeded per loop thread): the
// bugs this looks for live in the orders between a pause, bytes kept while paused, the peer's
// end and the resume, which no single hand-written sequence covers.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "net/test_support.hpp"
#include "net/tls_pki.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

constexpr int kConnections = 24;

// Connection i's bytes: its index as 8 digits, then i-seeded random bytes (1 B to 256 KiB).
std::string payload(int i) {
  char index[9];
  std::snprintf(index, sizeof index, "%08d", i);
  std::mt19937 sizes(static_cast<unsigned>(i) * 7919u + 1u);
  const std::size_t size = 1 + sizes() % (256 * 1024);
  return std::string(index, 8) + random_bytes(size, 5000 + static_cast<std::uint64_t>(i));
}

class Choppy final : public EventHandler {
 public:
  struct Outcome {
    std::string got;
    int eofs = 0;
    std::error_code error;
  };
  // echo: write back what is consumed. close_one_in: after a delivery, one time in that many,
  // end the connection one of four ways (0: never).
  explicit Choppy(bool echo = false, unsigned close_one_in = 0) : echo_(echo), close_one_in_(close_one_in) {}
  std::mutex mu;
  std::map<int, Outcome> outcomes;  // by payload index, once closed
  std::atomic<int> opened{0}, closed{0};

  Action on_open(Conn& c) override {
    ++opened;
    c.set_context(Outcome{});
    maybe_pause(c);
    return Action::none;
  }

  Action on_traffic(Conn& c) override {
    Outcome* o = c.context<Outcome>();
    const std::size_t have = c.peek().size();
    std::size_t take = 0;  // none, all, or a random part: the rest waits in the connection
    switch (rng()() % 4) {
      case 0: take = 0; break;
      case 1: take = have; break;
      default: take = have == 0 ? 0 : rng()() % (have + 1); break;
    }
    const std::string_view part = c.next(take);
    o->got.append(part);
    if (echo_) c.write(part);  // past write_buffer_cap, gnet pauses reading until it drains
    maybe_pause(c);
    if (close_one_in_ != 0 && rng()() % close_one_in_ == 0) return end_somehow(c);
    return Action::none;
  }

  Action on_eof(Conn& c) override {
    Outcome* o = c.context<Outcome>();
    const std::string_view rest = c.next();  // what the handler left: nothing may follow
    o->got.append(rest);
    if (echo_) c.write(rest);
    ++o->eofs;
    return Action::close;  // (after the queued output)
  }

  Action on_close(Conn& c, std::error_code ec) override {
    Outcome* o = c.context<Outcome>();
    if (o == nullptr) return Action::none;
    o->error = ec;
    const int index = o->got.size() >= 8 ? std::atoi(o->got.substr(0, 8).c_str()) : -1;
    {
      std::lock_guard lock(mu);
      outcomes[index] = std::move(*o);
    }
    ++closed;
    return Action::none;
  }

 private:
  const bool echo_;
  const unsigned close_one_in_;

  // With output queued, input unread, a pause and its resume perhaps pending.
  static Action end_somehow(Conn& c) {
    Loop& loop = c.loop();
    const ConnHandle h = c.handle();
    switch (rng()() % 4) {
      case 0: return Action::close;
      case 1:
        c.close();
        c.write("after close");  // ignored: the connection is closing
        return Action::none;
      case 2:
        loop.run_after(std::chrono::microseconds(rng()() % 2000), [&loop, h] {
          if (Conn* again = loop.lookup(h)) again->close();
        });
        return Action::none;
      default: c.shutdown_write(); return Action::none;  // the peer hears our end, then closes
    }
  }

  static std::mt19937& rng() {
    static std::atomic<unsigned> next_seed{1};
    thread_local std::mt19937 r(next_seed.fetch_add(1) * 104729u);
    return r;
  }

  // One time in two, pause; the pause ends from a timer (0-2 ms), from a posted task, or at
  // once from this callback.
  static void maybe_pause(Conn& c) {
    const unsigned pick = rng()() % 8;
    if (pick >= 4) return;
    c.pause_read();
    Loop& loop = c.loop();
    const ConnHandle h = c.handle();
    auto resume = [&loop, h] {
      if (Conn* again = loop.lookup(h)) again->resume_read();
    };
    switch (pick) {
      case 0:
      case 1: loop.run_after(std::chrono::microseconds(rng()() % 2000), resume); break;
      case 2: (void)loop.post(resume); break;
      default: c.resume_read(); break;
    }
  }
};

// One connection's end as seen by its handler: every byte of want in order, then one on_eof,
// and no error.
void expect_outcome(const Choppy::Outcome& o, const std::string& want) {
  EXPECT_FALSE(o.error) << o.error.message();
  EXPECT_EQ(o.eofs, 1);
  EXPECT_EQ(o.got.size(), want.size());
  EXPECT_TRUE(o.got == want) << "bytes differ (or are out of order)";
}

void expect_every_byte(Choppy& side, const std::vector<std::string>& payloads, const char* which) {
  std::lock_guard lock(side.mu);
  ASSERT_EQ(side.outcomes.size(), payloads.size()) << which;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    SCOPED_TRACE(std::string(which) + ", connection " + std::to_string(i));
    auto it = side.outcomes.find(static_cast<int>(i));
    ASSERT_NE(it, side.outcomes.end());
    expect_outcome(it->second, payloads[i]);
  }
}

// Dials kConnections connections to `url` and writes each one's payload in random pieces from
// this thread, the connections interleaved. Then each ends its output: without echo by closing
// (after its output), and the server's handler must have seen every byte; with echo by
// shutting down its write side, the server echoing through its own random pauses and a small
// write_buffer_cap, and the client's handler (just as choppy) must get every byte back.
enum class Mode {
  bytes,   // the peers close after their bytes; the server must see every one
  echo,    // the peers half-close; every byte must come back
  closes,  // as echo, but the server ends connections at random: each ends exactly once
};

// proxy_header: the listener takes a PROXY v1 header first, which each connection sends in two
// pieces split at a random point before its payload; the handler sees only the payload.
void run_chaos(const std::string& url, Options server_options, Options client_options, Mode mode,
               bool proxy_header = false) {
  const bool echo = mode != Mode::bytes;
  Choppy choppy(echo, mode == Mode::closes ? 64 : 0);
  server_options.num_event_loop = 2;
  server_options.logger = null_logger();
  ServerThread server(choppy, proxy_header ? url + "?proxy_protocol=1" : url, std::move(server_options));
  ASSERT_TRUE(server.ok());
  std::string dial_url = url;
  if (url.find(":0") != std::string::npos) dial_url = url.substr(0, url.rfind(':') + 1) + std::to_string(server.port());

  Choppy back;  // the client's side: reads only the echo
  client_options.num_event_loop = 2;
  client_options.logger = null_logger();
  Client client(back, std::move(client_options));
  ASSERT_TRUE(client.start());
  std::vector<ConnHandle> handles;
  for (int i = 0; i < kConnections; ++i) {
    auto h = client.dial_sync(dial_url, 10s);
    ASSERT_TRUE(h) << h.error().message();
    handles.push_back(*h);
  }
  std::mt19937 pieces(42);
  if (proxy_header) {
    const std::string header = "PROXY TCP4 192.0.2.1 198.51.100.2 40000 443\r\n";
    for (const ConnHandle& h : handles) {
      const std::size_t split = 1 + pieces() % (header.size() - 1);
      ASSERT_FALSE(h.async_write(header.substr(0, split)));
      ASSERT_FALSE(h.async_write(header.substr(split)));
    }
  }
  std::vector<std::size_t> sent(kConnections, 0);
  std::vector<std::string> payloads;
  for (int i = 0; i < kConnections; ++i) payloads.push_back(payload(i));
  for (bool more = true; more;) {  // the connections' pieces interleaved
    more = false;
    for (int i = 0; i < kConnections; ++i) {
      const std::string& p = payloads[static_cast<std::size_t>(i)];
      std::size_t& at = sent[static_cast<std::size_t>(i)];
      if (at == p.size()) continue;
      const std::size_t n = std::min<std::size_t>(p.size() - at, 1 + pieces() % (48 * 1024));
      const ConnHandle& h = handles[static_cast<std::size_t>(i)];
      at += n;
      if (at < p.size()) {
        ASSERT_FALSE(h.async_write(p.substr(at - n, n)));
        more = true;
      } else if (!echo) {
        ASSERT_FALSE(h.async_write(p.substr(at - n, n)));
        ASSERT_FALSE(h.close());  // after the bytes: the end
      } else {
        Loop& loop = client.engine().loop(h.loop_index());
        ASSERT_FALSE(h.async_write(p.substr(at - n, n), [&loop, h](std::error_code) {
          if (Conn* c = loop.lookup(h)) c->shutdown_write();  // the end of our output only
        }));
      }
    }
  }
  ASSERT_TRUE(eventually([&] { return choppy.closed.load() == kConnections; }, 60s))
      << choppy.closed.load() << " of " << kConnections << " connections ended on the server";
  if (echo) {
    ASSERT_TRUE(eventually([&] { return back.closed.load() == kConnections; }, 60s))
        << back.closed.load() << " of " << kConnections << " connections ended on the client";
  }
  client.stop();
  ASSERT_TRUE(server.stop());
  if (mode == Mode::closes) {  // no bytes to check: each connection opened and closed once
    EXPECT_EQ(choppy.opened.load(), kConnections);
    EXPECT_EQ(choppy.closed.load(), kConnections);
    EXPECT_EQ(back.opened.load(), kConnections);
    EXPECT_EQ(back.closed.load(), kConnections);
    return;
  }
  expect_every_byte(choppy, payloads, "server");
  if (echo) expect_every_byte(back, payloads, "client");
}


void unix_chaos(Mode mode) {
  char dir[] = "/tmp/gnet-chaos-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/chaos.sock";
  run_chaos("unix://" + path, {.write_buffer_cap = 64 * 1024}, {}, mode);
  ::unlink(path.c_str());
  ::rmdir(dir);
}

void tls_chaos(Mode mode) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  Options server_options;
  server_options.tls.certificate = {cert.chain_file, cert.key_file};
  server_options.write_buffer_cap = 64 * 1024;
  Options client_options;
  client_options.tls.ca_file = pki.ca_file();
  run_chaos("tls://127.0.0.1:0", std::move(server_options), std::move(client_options), mode);
}

}  // namespace

TEST(PauseChaos, Tcp) { run_chaos("tcp://127.0.0.1:0", {}, {}, Mode::bytes); }
TEST(PauseChaos, Unix) { unix_chaos(Mode::bytes); }
TEST(PauseChaos, Tls) { tls_chaos(Mode::bytes); }

// Both ways: the peers half-close, the server echoes with backpressure, both sides choppy.
TEST(PauseChaos, TcpEchoBothSidesChoppy) {
  run_chaos("tcp://127.0.0.1:0", {.write_buffer_cap = 64 * 1024}, {}, Mode::echo);
}
TEST(PauseChaos, UnixEchoBothSidesChoppy) { unix_chaos(Mode::echo); }
TEST(PauseChaos, TlsEchoBothSidesChoppy) { tls_chaos(Mode::echo); }

// The server also ends connections at random (Action::close, close() then a write, close()
// from a timer, shutdown_write()), with output queued, input unread and resumes pending: every
// connection ends exactly once on each side, and nothing is touched after it is freed.
TEST(PauseChaos, TcpRandomEnds) {
  run_chaos("tcp://127.0.0.1:0", {.write_buffer_cap = 64 * 1024}, {}, Mode::closes);
}
TEST(PauseChaos, UnixRandomEnds) { unix_chaos(Mode::closes); }

// Behind a PROXY header that arrives in two pieces: echo, and random ends.
TEST(PauseChaos, ProxiedTcpEcho) {
  run_chaos("tcp://127.0.0.1:0", {.write_buffer_cap = 64 * 1024}, {}, Mode::echo, true);
}
TEST(PauseChaos, ProxiedTcpRandomEnds) {
  run_chaos("tcp://127.0.0.1:0", {.write_buffer_cap = 64 * 1024}, {}, Mode::closes, true);
}
TEST(PauseChaos, TlsRandomEnds) { tls_chaos(Mode::closes); }

// The same with edge-triggered epoll (gnet's EdgeTriggeredIO; io_uring ignores it), small reads
// (1 KiB: many partial TLS records) and a 4 KiB edge chunk, so a turn's reading stops mid-way
// and goes on from a deferred resume, on both sides.
TEST(PauseChaos, TcpEchoEdgeTriggeredSmallReads) {
  const Options small{.read_buffer_cap = 1024, .write_buffer_cap = 64 * 1024, .edge_triggered_io = true,
                      .edge_triggered_chunk = 4096};
  Options client = small;
  client.write_buffer_cap = Options{}.write_buffer_cap;
  run_chaos("tcp://127.0.0.1:0", small, client, Mode::echo);
}

TEST(PauseChaos, TlsEchoEdgeTriggeredSmallReads) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  Options server_options{.read_buffer_cap = 1024, .write_buffer_cap = 64 * 1024, .edge_triggered_io = true,
                         .edge_triggered_chunk = 4096};
  server_options.tls.certificate = {cert.chain_file, cert.key_file};
  Options client_options{.read_buffer_cap = 1024, .edge_triggered_io = true, .edge_triggered_chunk = 4096};
  client_options.tls.ca_file = pki.ca_file();
  run_chaos("tls://127.0.0.1:0", std::move(server_options), std::move(client_options), Mode::echo);
}

// A pipe (Client::enroll, owned): the writer sends connection 0's payload in random pieces and
// closes; the reading handler is as choppy as above. On io_uring a pipe is polled, not received
// into, so this is the readiness path on both backends, with a pipe's read(2) and EOF.
TEST(PauseChaos, PipeReader) {
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Choppy choppy;
    // Odd rounds edge-triggered with small reads (epoll; io_uring ignores both but the size).
    Options options{.read_buffer_cap = round % 2 == 1 ? 1024u : 64u * 1024u, .edge_triggered_io = round % 2 == 1,
                    .edge_triggered_chunk = 4096};
    options.logger = null_logger();
    Client client(choppy, std::move(options));
    ASSERT_TRUE(client.start());
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    auto h = client.enroll(p[0], {.sharing = Sharing::owned});
    ASSERT_TRUE(h) << h.error().message();
    const std::string want = payload(round);
    std::thread writer([&] {
      std::mt19937 pieces(static_cast<unsigned>(round) + 1u);
      for (std::size_t at = 0; at < want.size();) {
        const std::size_t n = std::min<std::size_t>(want.size() - at, 1 + pieces() % (48 * 1024));
        const ssize_t w = ::write(p[1], want.data() + at, n);
        if (w <= 0) break;
        at += static_cast<std::size_t>(w);
      }
      ::close(p[1]);
    });
    const bool ended = eventually([&] { return choppy.closed.load() == 1; }, 60s);
    writer.join();
    client.stop();
    ASSERT_TRUE(ended);
    std::lock_guard lock(choppy.mu);
    ASSERT_EQ(choppy.outcomes.size(), 1u);
    expect_outcome(choppy.outcomes.begin()->second, want);
  }
}

// A regular file (Client::enroll relays it through a socket pair from a thread, since its reads
// wait for the disk): every byte, then the end, to a choppy reader.
TEST(PauseChaos, RelayedFileReader) {
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    char path[] = "/tmp/gnet-chaos-file-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    const std::string want = payload(100 + round);
    ASSERT_EQ(::write(fd, want.data(), want.size()), static_cast<ssize_t>(want.size()));
    ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    Choppy choppy;
    Client client(choppy, {.logger = null_logger()});
    ASSERT_TRUE(client.start());
    auto h = client.enroll(fd, {.sharing = Sharing::owned});
    ASSERT_TRUE(h) << h.error().message();
    const bool ended = eventually([&] { return choppy.closed.load() == 1; }, 60s);
    client.stop();
    ASSERT_TRUE(ended);
    std::lock_guard lock(choppy.mu);
    ASSERT_EQ(choppy.outcomes.size(), 1u);
    expect_outcome(choppy.outcomes.begin()->second, want);
  }
}
