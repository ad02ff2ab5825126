// TLS over real loopback sockets, with a CA made for the test: the handler API unchanged
// (on_open after the handshake, plaintext both ways, close_notify on close), every failure named
// (TlsErrc) on the side that hears it, the listener serving on after each, SNI, ALPN and
// session resumption. Runs on both backends (see tests/CMakeLists.txt).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "net/test_support.hpp"
#include "net/tls_pki.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

template <class T>
bool arrives(std::future<T>& f) {
  return f.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
}

// Echoes plaintext; records what each connection learned and how it ended.
struct TlsEcho : EventHandler {
  std::mutex mu;
  std::vector<std::error_code> closes;
  std::vector<std::string> names, alpns, versions;
  std::atomic<int> opened{0};
  std::promise<std::error_code> first_close;
  bool first_close_set = false;
  Action on_open(Conn& c) override {
    std::lock_guard lock(mu);
    ++opened;
    EXPECT_TRUE(c.tls());
    names.emplace_back(c.tls_server_name());
    alpns.emplace_back(c.alpn());
    versions.emplace_back(c.tls_version());
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    c.write(c.next());
    return Action::none;
  }
  Action on_close(Conn&, std::error_code ec) override {
    std::lock_guard lock(mu);
    closes.push_back(ec);
    if (!first_close_set) first_close.set_value(ec);
    first_close_set = true;
    return Action::none;
  }
};

// A client side that collects what comes back.
struct Collector : EventHandler {
  std::mutex mu;
  std::string got;
  std::size_t expect = 0;
  std::promise<void> all;
  std::promise<std::error_code> closed;
  bool resumed = false, closed_set = false;
  Action on_open(Conn& c) override {
    resumed = c.tls_resumed();
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    std::lock_guard lock(mu);
    got.append(c.next());
    if (expect != 0 && got.size() == expect) all.set_value();
    return Action::none;
  }
  Action on_close(Conn&, std::error_code ec) override {
    std::lock_guard lock(mu);
    if (!closed_set) closed.set_value(ec);
    closed_set = true;
    return Action::none;
  }
};

Options server_options(const PemPair& cert, TlsOptions extra = {}) {
  Options o;
  o.tls = std::move(extra);
  o.tls.certificate = {cert.chain_file, cert.key_file};
  return o;
}

std::string tls_url(std::uint16_t port, const char* host = "127.0.0.1") {
  return std::string("tls://") + host + ":" + std::to_string(port);
}

}  // namespace

// 1 MiB each way through TLS, every byte checked; on_open ran after the handshake on both sides.
TEST(Tls, EchoesEveryByteWithTheHandlerApiUnchanged) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  TlsEcho echo;
  ServerThread server(echo, "tls://127.0.0.1:0", server_options(cert));
  ASSERT_TRUE(server.ok());

  Collector col;
  Options co;
  co.tls.ca_file = pki.ca_file();
  Client client(col, co);
  ASSERT_TRUE(client.start());
  auto h = client.dial_sync(tls_url(server.port()), 10s);
  ASSERT_TRUE(h) << h.error().message();
  const std::string payload = random_bytes(1 << 20, 3);
  col.expect = payload.size();
  auto all = col.all.get_future();
  for (std::size_t off = 0; off < payload.size(); off += 100000) ASSERT_FALSE(h->async_write(payload.substr(off, 100000)));
  ASSERT_TRUE(arrives(all));
  EXPECT_EQ(col.got, payload);
  {
    std::lock_guard lock(echo.mu);
    ASSERT_EQ(echo.versions.size(), 1u);
    EXPECT_EQ(echo.versions[0], "TLSv1.3");
  }
  ASSERT_FALSE(h->close());  // close_notify, then FIN: the server hears a clean end
  auto server_closed = echo.first_close.get_future();
  ASSERT_TRUE(arrives(server_closed));
  EXPECT_FALSE(server_closed.get());
  client.stop();
}

// The server closes after its reply: close_notify reaches the client as a clean end of input,
// after every byte.
TEST(Tls, ServerCloseArrivesAfterTheLastByte) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  struct Greeter : EventHandler {
    std::string greeting = random_bytes(300000, 8);
    Action on_open(Conn& c) override {
      c.write(greeting);
      return Action::close;
    }
  } greeter;
  ServerThread server(greeter, "tls://127.0.0.1:0", server_options(cert));
  ASSERT_TRUE(server.ok());
  Collector col;
  Options co;
  co.tls.ca_file = pki.ca_file();
  Client client(col, co);
  ASSERT_TRUE(client.start());
  auto closed = col.closed.get_future();
  auto h = client.dial_sync(tls_url(server.port(), "localhost"), 10s);
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_TRUE(arrives(closed));
  EXPECT_FALSE(closed.get());
  EXPECT_EQ(col.got, greeter.greeting);
  client.stop();
}

// Each failure is named on the side that hears it, and the listener goes on serving.
TEST(Tls, HandshakeFailuresAreNamedAndTheListenerServesOn) {
  TestPki pki;
  auto good = pki.leaf("good", {"localhost"}, {"127.0.0.1"});
  TlsEcho echo;
  TlsOptions so;
  so.handshake_timeout = 2s;  // (a deadline only: nothing here waits for it but the silent client)
  ServerThread server(echo, "tls://127.0.0.1:0", server_options(good, so));
  ASSERT_TRUE(server.ok());
  const std::uint16_t port = server.port();

  auto server_close = [&](std::size_t index) {
    EXPECT_TRUE(eventually([&] {
      std::lock_guard lock(echo.mu);
      return echo.closes.size() > index;
    }, 30s));
    std::lock_guard lock(echo.mu);
    return echo.closes.size() > index ? echo.closes[index] : std::error_code{};
  };

  // Plaintext HTTP on the TLS port.
  int raw = connect_tcp(port);
  send_all(raw, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(wait_closed(raw));
  close_fd(raw);
  EXPECT_EQ(server_close(0), TlsErrc::not_tls);

  // A client that connects and says nothing: the handshake deadline.
  raw = connect_tcp(port);
  EXPECT_TRUE(wait_closed(raw));
  close_fd(raw);
  EXPECT_EQ(server_close(1), TlsErrc::handshake_timeout);

  // A client that does not trust the server's CA (no ca_file, and a CA the system never heard of).
  Collector col;
  Options trusting_nobody;
  trusting_nobody.logger = [](LogLevel, std::string_view m) { std::fprintf(stderr, "client log: %.*s\n", (int)m.size(), m.data()); };
  Client client(col, trusting_nobody);
  ASSERT_TRUE(client.start());
  auto untrusted = client.dial_sync(tls_url(port), 10s);
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code(), TlsErrc::certificate_untrusted) << untrusted.error().message();
  EXPECT_EQ(server_close(2), TlsErrc::peer_alert);  // the client's unknown_ca alert
  client.stop();

  // A name the certificate does not carry.
  Options wrong_name;
  wrong_name.tls.ca_file = pki.ca_file();
  wrong_name.tls.server_name = "elsewhere.example";
  Client c2(col, wrong_name);
  ASSERT_TRUE(c2.start());
  auto mismatch = c2.dial_sync(tls_url(port), 10s);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code(), TlsErrc::hostname_mismatch);
  c2.stop();

  // And the listener still serves a good client.
  EXPECT_EQ(echo.opened.load(), 0);
  Options ok;
  ok.tls.ca_file = pki.ca_file();
  Client c3(col, ok);
  ASSERT_TRUE(c3.start());
  auto fine = c3.dial_sync(tls_url(port), 10s);
  ASSERT_TRUE(fine) << fine.error().message();
  EXPECT_TRUE(eventually([&] { return echo.opened.load() == 1; }, 30s));
  c3.stop();
}

TEST(Tls, ExpiredAndSelfSignedCertificatesAreRefusedByName) {
  TestPki pki;
  for (bool expired : {true, false}) {
    auto cert = expired ? pki.leaf("old", {"localhost"}, {"127.0.0.1"}, -10, -1)
                        : pki.leaf("self", {"localhost"}, {"127.0.0.1"}, -1, 30, true);
    TlsEcho echo;
    ServerThread server(echo, "tls://127.0.0.1:0", server_options(cert));
    ASSERT_TRUE(server.ok());
    Collector col;
    Options co;
    co.tls.ca_file = pki.ca_file();
    Client client(col, co);
    ASSERT_TRUE(client.start());
    auto r = client.dial_sync(tls_url(server.port()), 10s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), expired ? TlsErrc::certificate_expired : TlsErrc::certificate_untrusted)
        << r.error().message();
    client.stop();
  }
}

// SNI picks the certificate; ALPN settles on the server's first choice the client offers.
TEST(Tls, SniPicksTheCertificateAndAlpnTheProtocol) {
  TestPki pki;
  auto main_cert = pki.leaf("main", {"localhost"}, {"127.0.0.1"});
  auto api_cert = pki.leaf("api", {"api.test"}, {});
  TlsOptions so;
  so.sni_certificates = {{"*.test", {api_cert.chain_file, api_cert.key_file}}};
  so.alpn = {"h2", "http/1.1"};
  TlsEcho echo;
  ServerThread server(echo, "tls://127.0.0.1:0", server_options(main_cert, so));
  ASSERT_TRUE(server.ok());

  Collector col;
  Options co;
  co.tls.ca_file = pki.ca_file();
  co.tls.server_name = "api.test";  // verified against the certificate SNI chose
  co.tls.alpn = {"http/1.1"};
  Client client(col, co);
  ASSERT_TRUE(client.start());
  auto h = client.dial_sync(tls_url(server.port()), 10s);
  ASSERT_TRUE(h) << h.error().message();
  // (TLS 1.3: the client is done a flight before the server, whose on_open may come later.)
  EXPECT_TRUE(eventually([&] { return echo.opened.load() == 1; }, 30s));
  {
    std::lock_guard lock(echo.mu);
    ASSERT_EQ(echo.names.size(), 1u);
    EXPECT_EQ(echo.names[0], "api.test");
    EXPECT_EQ(echo.alpns[0], "http/1.1");
  }
  client.stop();

  // No protocol in common: refused on both sides, by name.
  Options none = co;
  none.tls.alpn = {"spdy/1"};
  Client c2(col, none);
  ASSERT_TRUE(c2.start());
  auto r = c2.dial_sync(tls_url(server.port()), 10s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), TlsErrc::no_alpn_match) << r.error().message();
  c2.stop();
}

// The second dial to the same place resumes with the ticket the first one received.
TEST(Tls, SecondDialResumesTheSession) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  TlsEcho echo;
  ServerThread server(echo, "tls://127.0.0.1:0", server_options(cert));
  ASSERT_TRUE(server.ok());
  std::vector<bool> resumed;
  Options co;
  co.tls.ca_file = pki.ca_file();
  Collector col;
  Client client(col, co);
  ASSERT_TRUE(client.start());
  for (int i = 0; i < 2; ++i) {
    {
      std::lock_guard lock(col.mu);
      col.got.clear();
      col.expect = 5;
      col.all = {};
    }
    auto all = col.all.get_future();
    auto h = client.dial_sync(tls_url(server.port(), "localhost"), 10s);
    ASSERT_TRUE(h) << h.error().message();
    ASSERT_FALSE(h->async_write("hello"));  // a round trip: the tickets have arrived by then
    ASSERT_TRUE(arrives(all));
    std::promise<bool> r;
    auto rf = r.get_future();
    Loop& loop = client.engine().loop(h->loop_index());
    ASSERT_FALSE(loop.post([&] { r.set_value(loop.lookup(*h)->tls_resumed()); }));
    resumed.push_back(rf.get());
    ASSERT_FALSE(h->close());
  }
  EXPECT_FALSE(resumed[0]);
  EXPECT_TRUE(resumed[1]);
  client.stop();
}

// Mutual TLS: a client without a certificate is refused by name on the server.
TEST(Tls, RequiredClientCertificateIsEnforced) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  auto client_cert = pki.leaf("client", {"client.test"}, {});
  TlsOptions so;
  so.require_client_certificate = true;
  so.ca_file = pki.ca_file();
  TlsEcho echo;
  ServerThread server(echo, "tls://127.0.0.1:0", server_options(cert, so));
  ASSERT_TRUE(server.ok());

  Collector col;
  Options anon;
  anon.tls.ca_file = pki.ca_file();
  Client c1(col, anon);
  ASSERT_TRUE(c1.start());
  (void)c1.dial_sync(tls_url(server.port()), 10s);  // TLS 1.3: the client may finish first
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(echo.mu);
    return !echo.closes.empty();
  }, 30s));
  {
    std::lock_guard lock(echo.mu);
    ASSERT_FALSE(echo.closes.empty());
    EXPECT_EQ(echo.closes[0], TlsErrc::certificate_required);
  }
  c1.stop();

  Options with = anon;
  with.tls.certificate = {client_cert.chain_file, client_cert.key_file};
  Client c2(col, with);
  ASSERT_TRUE(c2.start());
  auto h = c2.dial_sync(tls_url(server.port()), 10s);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_TRUE(eventually([&] { return echo.opened.load() == 1; }, 30s));
  c2.stop();
}

// The inbound bound holds through TLS: a handler that consumes nothing is closed with
// Errc::inbound_limit once the plaintext it left passes max_inbound_buffered; the peer cannot make
// the server hold more than that, one read and one TLS record.
TEST(Tls, UnconsumedPlaintextPastTheLimitClosesWithANamedError) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  struct Hoarder : EventHandler {
    std::promise<std::error_code> closed;
    std::atomic<std::size_t> most{0};
    Action on_traffic(Conn& c) override {
      if (c.inbound_buffered() > most) most = c.inbound_buffered();
      return Action::none;  // consumes nothing
    }
    Action on_close(Conn&, std::error_code ec) override {
      closed.set_value(ec);
      return Action::none;
    }
  } hoarder;
  Options so = server_options(cert);
  so.max_inbound_buffered = 64 * 1024;
  ServerThread server(hoarder, "tls://127.0.0.1:0", so);
  ASSERT_TRUE(server.ok());
  Collector col;
  Options co;
  co.tls.ca_file = pki.ca_file();
  Client client(col, co);
  ASSERT_TRUE(client.start());
  auto h = client.dial_sync(tls_url(server.port()), 10s);
  ASSERT_TRUE(h) << h.error().message();
  for (int i = 0; i < 16; ++i) ASSERT_FALSE(h->async_write(random_bytes(64 * 1024, 200 + i)));
  auto closed = hoarder.closed.get_future();
  ASSERT_TRUE(arrives(closed));
  EXPECT_EQ(closed.get(), Errc::inbound_limit);
  EXPECT_LE(hoarder.most.load(), so.max_inbound_buffered + so.read_buffer_cap);
  client.stop();
}

// A write from outside a callback (a ConnHandle task, a Loop::post task) whose send fails inside
// SSL_write: the connection is aborted with the send's error, and the TLS session it is writing
// through stays alive until SSL_write has returned. (Closing at once used to free the session
// under OpenSSL: a use-after-free ASan caught.) The server's own write side is shut first, so
// every send fails with EPIPE, deterministically.
TEST(Tls, AWriteThatFailsInsideOpenSslFromATaskClosesCleanly) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  struct Breaker : EventHandler {
    std::mutex mu;
    std::vector<ConnHandle> broken;  // write side shut, in arrival order
    std::vector<std::error_code> closes;
    std::atomic<int> closed{0};
    Action on_traffic(Conn& c) override {
      c.discard();
      ::shutdown(c.fd(), SHUT_WR);  // behind the library's back: every later send fails
      std::lock_guard lock(mu);
      broken.push_back(c.handle());
      return Action::none;
    }
    Action on_close(Conn&, std::error_code ec) override {
      std::lock_guard lock(mu);
      closes.push_back(ec);
      ++closed;
      return Action::none;
    }
  } breaker;
  ServerThread server(breaker, "tls://127.0.0.1:0", server_options(cert));
  ASSERT_TRUE(server.ok());
  struct StaysOpen : Collector {
    Action on_eof(Conn&) override { return Action::none; }  // the server's FIN must not end it
  } col;
  Options co;
  co.tls.ca_file = pki.ca_file();
  Client client(col, co);
  ASSERT_TRUE(client.start());
  for (int i = 0; i < 2; ++i) {
    auto h = client.dial_sync(tls_url(server.port()), 10s);
    ASSERT_TRUE(h) << h.error().message();
    ASSERT_FALSE(h->async_write("go"));
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(breaker.mu);
      return breaker.broken.size() == static_cast<std::size_t>(i + 1);
    }));
  }
  ConnHandle first, second;
  {
    std::lock_guard lock(breaker.mu);
    first = breaker.broken[0];
    second = breaker.broken[1];
  }
  // 1. Through a ConnHandle task.
  std::promise<std::error_code> done;
  ASSERT_FALSE(first.async_write(random_bytes(256 << 10, 5), [&](std::error_code ec) { done.set_value(ec); }));
  auto f = done.get_future();
  ASSERT_TRUE(arrives(f));
  // epoll sends at once, so the write itself reports the send's failure, as a plain write does.
  // io_uring queues the ciphertext and hears of the failure at its completion: the write has
  // succeeded (queued) or finds the connection closed. Either way on_close says EPIPE below.
  const bool sends_at_once = server.engine().io_backend() == IoBackend::epoll;
  auto write_result_ok = [&](std::error_code ec) {
    return sends_at_once ? ec == std::errc::broken_pipe : (!ec || ec == Errc::connection_closed);
  };
  const std::error_code first_result = f.get();
  EXPECT_TRUE(write_result_ok(first_result)) << first_result.message();
  // 2. Through Loop::post, looking the connection up and writing to it.
  std::promise<std::error_code> posted;
  Loop& loop = server.engine().loop(second.loop_index());
  ASSERT_FALSE(server.engine().post(second.loop_index(), [&] {
    Conn* c = loop.lookup(second);
    posted.set_value(c == nullptr ? make_error_code(Errc::connection_closed) : c->write(random_bytes(256 << 10, 6)));
  }));
  auto p = posted.get_future();
  ASSERT_TRUE(arrives(p));
  const std::error_code second_result = p.get();
  EXPECT_TRUE(write_result_ok(second_result)) << second_result.message();
  ASSERT_TRUE(eventually([&] { return breaker.closed.load() == 2; }));
  {
    std::lock_guard lock(breaker.mu);
    for (std::error_code ec : breaker.closes) EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
  }
  client.stop();
}

TEST(Tls, SetupErrorsNameWhatIsMissing) {
  TlsEcho echo;
  auto no_cert = gnet::run(echo, "tls://127.0.0.1:0", {});
  ASSERT_FALSE(no_cert);
  EXPECT_NE(no_cert.error().message().find("Options::tls.certificate"), std::string::npos) << no_cert.error().message();

  Options missing;
  missing.tls.certificate = {"/nonexistent/server.crt", "/nonexistent/server.key"};
  auto bad = gnet::run(echo, "tls://127.0.0.1:0", missing);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("/nonexistent/server.crt"), std::string::npos) << bad.error().message();

  TestPki pki;
  auto a = pki.leaf("a", {"a.test"}, {});
  auto b = pki.leaf("b", {"b.test"}, {});
  Options mismatched;
  mismatched.tls.certificate = {a.chain_file, b.key_file};
  auto wrong = gnet::run(echo, "tls://127.0.0.1:0", mismatched);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("mismatch"), std::string::npos) << wrong.error().message();
  EXPECT_NE(wrong.error().message().find(b.key_file), std::string::npos) << wrong.error().message();
}

// A tls:// dial whose on_open (after the handshake) closes the connection still succeeded:
// on_done hears no error, once, with a handle that is stale because the connection closed.
TEST(Tls, DialWhoseOnOpenClosesStillSucceedsOnce) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  TlsEcho echo;
  ServerThread server(echo, "tls://127.0.0.1:0", server_options(cert));
  ASSERT_TRUE(server.ok());
  struct ClosesAtOnce : EventHandler {
    std::atomic<int> opened{0}, closed{0};
    Action on_open(Conn&) override {
      ++opened;
      return Action::close;
    }
    Action on_close(Conn&, std::error_code) override {
      ++closed;
      return Action::none;
    }
  } probe;
  Options co;
  co.tls.ca_file = pki.ca_file();
  co.logger = null_logger();
  Client client(probe, co);
  ASSERT_TRUE(client.start());
  std::atomic<int> calls{0};
  std::promise<std::pair<std::error_code, ConnHandle>> done;
  EXPECT_FALSE(client.dial(tls_url(server.port()), 10s, [&](std::error_code ec, ConnHandle h) {
    if (calls++ == 0) done.set_value({ec, h});
  }));
  auto result = done.get_future();
  ASSERT_TRUE(arrives(result));
  auto [ec, handle] = result.get();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(handle.empty());
  EXPECT_EQ(probe.opened, 1);
  EXPECT_TRUE(eventually([&] { return probe.closed == 1; }));
  std::promise<std::error_code> late;  // the handle is stale: the connection has closed
  EXPECT_FALSE(handle.async_write("late", [&](std::error_code e) { late.set_value(e); }));
  EXPECT_EQ(late.get_future().get(), Errc::connection_closed);
  client.stop();
  EXPECT_EQ(calls, 1);
}

// A tls:// connection that pauses its reading on the first record of the peer's last bytes,
// while the rest, the close_notify and the FIN are already here: a completion backend (io_uring)
// holds the ciphertext and hears the end while paused. Once reading resumes, every byte is
// decrypted and handed over first, and only then the end.
TEST(Tls, PausedConnectionGetsThePeersLastBytesBeforeTheEnd) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  struct Speaker : EventHandler {
    std::string words = random_bytes(32 * 1024, 78);  // small: sits whole in a receive buffer
    std::atomic<int> closed{0};
    Action on_open(Conn& c) override {
      c.write(words);
      return Action::close;  // close_notify and the FIN follow the bytes
    }
    Action on_close(Conn&, std::error_code) override {
      ++closed;
      return Action::none;
    }
  } speaker;
  ServerThread server(speaker, "tls://127.0.0.1:0", server_options(cert));
  ASSERT_TRUE(server.ok());
  struct Listener : Collector {
    std::atomic<bool> eof{false}, paused{false};
    std::atomic<std::size_t> at_eof{0};
    Action on_traffic(Conn& c) override {
      std::lock_guard lock(mu);
      got.append(c.next());
      // Enough for now: the records after the first and the end arrive in the same turn (the
      // server sends them all at once), before the pause can take effect.
      if (!paused.exchange(true)) c.pause_read();
      return Action::none;
    }
    Action on_eof(Conn&) override {
      std::lock_guard lock(mu);
      at_eof = got.size();
      eof = true;
      return Action::close;
    }
  } listener;
  Options co;
  co.tls.ca_file = pki.ca_file();
  Client client(listener, co);
  ASSERT_TRUE(client.start());
  auto closed = listener.closed.get_future();
  auto h = client.dial_sync(tls_url(server.port()), 10s);
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_TRUE(eventually([&] { return speaker.closed.load() == 1 && listener.paused.load(); }, 30s));
  Loop& loop = client.engine().loop(h->loop_index());
  ASSERT_TRUE(let_loop_turn(loop, 20));  // a few turns of the client's loop with the end pending
  ASSERT_TRUE(run_on_loop(loop, [&] {
    if (Conn* c = loop.lookup(*h)) c->resume_read();
  }));
  ASSERT_TRUE(arrives(closed));
  EXPECT_FALSE(closed.get()) << "a clean end was reported as an error";
  EXPECT_TRUE(listener.eof.load());
  std::lock_guard lock(listener.mu);
  EXPECT_EQ(listener.at_eof.load(), speaker.words.size()) << "the end came before the last bytes";
  EXPECT_EQ(listener.got.size(), speaker.words.size());
  EXPECT_TRUE(listener.got == speaker.words);
  client.stop();
}
