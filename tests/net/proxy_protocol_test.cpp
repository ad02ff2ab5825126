// PROXY protocol listeners (?proxy_protocol=1) over real loopback sockets: on_open waits for the
// header and then sees its addresses; the bytes after it arrive intact whether they share a
// write with the header or the header trickles in byte by byte; a bad or late header closes the
// connection with Errc::bad_proxy_header and one log line, unseen by the handler; TLS works
// behind the header. Runs on both backends (see tests/CMakeLists.txt).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/test_support.hpp"
#include "net/tls_pki.hpp"
#include "proxy_v2_header.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

// on_open tells the client what the connection reports ("remote=A local=B\n"), then echoes.
struct AddressEcho : EventHandler {
  std::atomic<int> opened{0}, closed{0};
  Action on_open(Conn& c) override {
    ++opened;
    c.write("remote=" + c.remote_addr().to_string() + " local=" + c.local_addr().to_string() + "\n");
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    c.write(c.next());
    return Action::none;
  }
  Action on_close(Conn&, std::error_code) override {
    ++closed;
    return Action::none;
  }
};

// Collects the log lines at warn and above (the engine's own lines about this test's peers).
struct LogLines {
  std::mutex mu;
  std::vector<std::string> lines;
  LogSink sink() {
    return [this](LogLevel level, std::string_view msg) {
      if (level < LogLevel::warn) return;
      std::lock_guard lock(mu);
      lines.emplace_back(msg);
    };
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return lines;
  }
};

std::string read_line(int fd) {
  std::string line;
  while (line.empty() || line.back() != '\n') line += recv_exact(fd, 1);
  return line;
}

std::string sockname(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (peer) ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  else ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len).to_string();
}

using gnet::test::proxy_v2;

// 203.0.113.7:40000 -> 198.51.100.9:8080, followed by TLVs (ALPN, authority, a custom one).
std::string v2_ipv4_with_tlvs() {
  std::string body("\xcb\x00\x71\x07\xc6\x33\x64\x09\x9c\x40\x1f\x90", 12);
  body += std::string("\x01\x00\x08http/1.1", 11);
  body += std::string("\x02\x00\x0b""example.com", 14);
  body += std::string("\xea\x00\x03xyz", 6);
  return proxy_v2(1, 0x11, body);
}

// [2001:db8::5]:1234 -> [2001:db8::1]:443, with a NOOP TLV.
std::string v2_ipv6_with_tlvs() {
  std::string src(16, '\0'), dst(16, '\0');
  src[0] = '\x20'; src[1] = '\x01'; src[2] = '\x0d'; src[3] = '\xb8'; src[15] = '\x05';
  dst[0] = '\x20'; dst[1] = '\x01'; dst[2] = '\x0d'; dst[3] = '\xb8'; dst[15] = '\x01';
  std::string body = src + dst + std::string("\x04\xd2\x01\xbb", 4) + std::string("\x04\x00\x02..", 5);
  return proxy_v2(1, 0x21, body);
}

Options quiet_options(LogLines& logs) {
  Options o;
  o.logger = logs.sink();
  return o;
}

// Header and payload in one write: the line shows the header's addresses, the payload echoes.
void expect_header_addresses(const std::string& header, const std::string& expected_line) {
  AddressEcho echo;
  LogLines logs;
  ServerThread server(echo, "tcp://127.0.0.1:0?proxy_protocol=1", quiet_options(logs));
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  send_all(fd, header + "hello after the header");
  EXPECT_EQ(read_line(fd), expected_line);
  EXPECT_EQ(recv_exact(fd, 22), "hello after the header");
  close_fd(fd);
  EXPECT_TRUE(eventually([&] { return echo.closed == 1; }));
  EXPECT_EQ(echo.opened, 1);
  EXPECT_TRUE(logs.snapshot().empty());
}

}  // namespace

TEST(ProxyProtocol, V1Tcp4) {
  expect_header_addresses("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
                          "remote=192.0.2.1:56324 local=198.51.100.2:443\n");
}

TEST(ProxyProtocol, V1Tcp6) {
  expect_header_addresses("PROXY TCP6 2001:db8::7 2001:db8::1 50000 8443\r\n",
                          "remote=[2001:db8::7]:50000 local=[2001:db8::1]:8443\n");
}

TEST(ProxyProtocol, V2ProxyIpv4WithTlvs) {
  expect_header_addresses(v2_ipv4_with_tlvs(), "remote=203.0.113.7:40000 local=198.51.100.9:8080\n");
}

TEST(ProxyProtocol, V2ProxyIpv6WithTlvs) {
  expect_header_addresses(v2_ipv6_with_tlvs(), "remote=[2001:db8::5]:1234 local=[2001:db8::1]:443\n");
}

// v1 UNKNOWN and v2 LOCAL (a balancer's own health check) keep the socket's real addresses.
TEST(ProxyProtocol, V1UnknownAndV2LocalKeepTheSocketsAddresses) {
  AddressEcho echo;
  LogLines logs;
  ServerThread server(echo, "tcp://127.0.0.1:0?proxy_protocol=1", quiet_options(logs));
  ASSERT_TRUE(server.ok());
  for (const std::string& header : {std::string("PROXY UNKNOWN\r\n"), proxy_v2(0, 0x00, ""),
                                    proxy_v2(0, 0x11, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02", 12))}) {
    int fd = connect_tcp(server.port());
    const std::string expected = "remote=" + sockname(fd, false) + " local=" + sockname(fd, true) + "\n";
    send_all(fd, header + "x");
    EXPECT_EQ(read_line(fd), expected);
    EXPECT_EQ(recv_exact(fd, 1), "x");
    close_fd(fd);
  }
  EXPECT_TRUE(eventually([&] { return echo.closed == 3; }));
  EXPECT_TRUE(logs.snapshot().empty());
}

// The header split byte by byte (one segment each, as far as the kernel obliges): no on_open
// until its last byte, and the payload that follows is intact.
TEST(ProxyProtocol, HeaderSplitByteByByte) {
  for (const std::string& header :
       {std::string("PROXY TCP4 10.1.2.3 10.9.8.7 1111 2222\r\n"), v2_ipv4_with_tlvs()}) {
    AddressEcho echo;
    LogLines logs;
    ServerThread server(echo, "tcp://127.0.0.1:0?proxy_protocol=1", quiet_options(logs));
    ASSERT_TRUE(server.ok());
    int fd = connect_tcp(server.port());
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (std::size_t i = 0; i + 1 < header.size(); ++i) {
      send_all(fd, header.substr(i, 1));
      std::this_thread::sleep_for(1ms);  // lets most bytes arrive as reads of their own
    }
    EXPECT_EQ(echo.opened, 0) << "on_open ran before the header was complete";
    const std::string payload = random_bytes(100000, 7);
    send_all(fd, header.substr(header.size() - 1) + payload.substr(0, 10));
    send_all(fd, payload.substr(10));
    std::string line = read_line(fd);
    EXPECT_TRUE(line == "remote=10.1.2.3:1111 local=10.9.8.7:2222\n" ||
                line == "remote=203.0.113.7:40000 local=198.51.100.9:8080\n")
        << line;
    EXPECT_EQ(recv_exact(fd, payload.size()), payload);
    close_fd(fd);
    EXPECT_TRUE(eventually([&] { return echo.closed == 1; }));
    EXPECT_TRUE(logs.snapshot().empty());
  }
}

// Garbage, a wrong v2 signature, a bad v1 line: closed with bad_proxy_header, one log line
// each, no on_open and no on_close; the metrics count them as accepted, closed with an error.
TEST(ProxyProtocol, BadHeaderClosesWithNamedErrorUnseenByTheHandler) {
  AddressEcho echo;
  LogLines logs;
  ServerThread server(echo, "tcp://127.0.0.1:0?proxy_protocol=1", quiet_options(logs));
  ASSERT_TRUE(server.ok());
  std::string wrong_sig = v2_ipv4_with_tlvs();
  wrong_sig[9] = 'X';
  const std::vector<std::string> bad = {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", wrong_sig,
                                        "PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\nhello"};
  for (const std::string& b : bad) {
    int fd = connect_tcp(server.port());
    send_all(fd, b);
    EXPECT_TRUE(wait_closed(fd)) << b;
    close_fd(fd);
  }
  ASSERT_TRUE(eventually([&] { return logs.snapshot().size() == bad.size(); }));
  for (const std::string& line : logs.snapshot()) {
    EXPECT_NE(line.find("proxy_protocol 127.0.0.1:"), std::string::npos) << line;
    EXPECT_NE(line.find(make_error_code(Errc::bad_proxy_header).message()), std::string::npos) << line;
  }
  EXPECT_EQ(echo.opened, 0);
  EXPECT_EQ(echo.closed, 0);
  ASSERT_TRUE(eventually([&] { return server.engine().metrics().total.closed == bad.size(); }));
  EngineMetrics m = server.engine().metrics();
  EXPECT_EQ(m.total.accepted, bad.size());
  EXPECT_EQ(m.total.closed_with_error, bad.size());
  EXPECT_EQ(m.total.open_connections, 0u);
  EXPECT_EQ(m.total.messages_in, 0u);  // nothing reached on_traffic

  // The listener serves on.
  int fd = connect_tcp(server.port());
  send_all(fd, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
  EXPECT_EQ(read_line(fd), "remote=1.2.3.4:1 local=5.6.7.8:2\n");
  close_fd(fd);
}

// A header that never completes is cut at proxy_header_timeout, even while bytes trickle in (a
// v2 header announcing 65535 bytes, fed one byte at a time, would otherwise take minutes).
TEST(ProxyProtocol, IncompleteHeaderClosedAtTheDeadline) {
  AddressEcho echo;
  LogLines logs;
  Options o = quiet_options(logs);
  o.proxy_header_timeout = 300ms;
  ServerThread server(echo, "tcp://127.0.0.1:0?proxy_protocol=1", o);
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  std::string header = proxy_v2(1, 0x11, std::string(65535, '\0'));
  bool closed = false;
  for (std::size_t i = 0; i < header.size() && !closed; ++i) {
    if (::send(fd, header.data() + i, 1, MSG_NOSIGNAL) != 1) break;
    pollfd p{fd, POLLIN, 0};
    closed = ::poll(&p, 1, 20) == 1;  // readable: EOF or reset, the server said nothing else
    if (i > 5000) break;              // 100 s: a hang, not a pass
  }
  EXPECT_TRUE(closed || wait_closed(fd, 1s));
  close_fd(fd);
  ASSERT_TRUE(eventually([&] { return logs.snapshot().size() == 1; }));
  EXPECT_NE(logs.snapshot()[0].find("no complete header within proxy_header_timeout"), std::string::npos)
      << logs.snapshot()[0];
  EXPECT_EQ(echo.opened, 0);
  EXPECT_EQ(echo.closed, 0);
}

// A peer that connects and leaves without a byte (a plain TCP health check) is no error: no
// log line at warn, nothing for the handler, not counted as closed with an error.
TEST(ProxyProtocol, SilentPeerIsNotAnError) {
  AddressEcho echo;
  LogLines logs;
  ServerThread server(echo, "tcp://127.0.0.1:0?proxy_protocol=1", quiet_options(logs));
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  close_fd(fd);
  ASSERT_TRUE(eventually([&] { return server.engine().metrics().total.closed == 1; }));
  EXPECT_EQ(server.engine().metrics().total.closed_with_error, 0u);
  EXPECT_EQ(echo.opened, 0);
  EXPECT_EQ(echo.closed, 0);
  EXPECT_TRUE(logs.snapshot().empty());
}

// tls:// behind the header: the header in plaintext, then the TLS handshake; on_open (after the
// handshake) sees the header's addresses, and the first record may share a read with it.
TEST(ProxyProtocol, TlsBehindTheHeader) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  AddressEcho echo;
  LogLines logs;
  Options o = quiet_options(logs);
  o.tls.certificate = {cert.chain_file, cert.key_file};
  ServerThread server(echo, "tls://127.0.0.1:0?proxy_protocol=1", o);
  ASSERT_TRUE(server.ok());

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  ASSERT_EQ(SSL_CTX_load_verify_locations(ctx, pki.ca_file().c_str(), nullptr), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  for (const std::string& header : {v2_ipv4_with_tlvs(), std::string("PROXY TCP6 2001:db8::7 2001:db8::1 50000 8443\r\n")}) {
    int fd = connect_tcp(server.port());
    send_all(fd, header);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    ASSERT_EQ(SSL_connect(ssl), 1) << ERR_error_string(ERR_get_error(), nullptr);
    ASSERT_EQ(SSL_write(ssl, "ping", 4), 4);
    std::string got;
    char buf[256];
    while (got.find("ping") == std::string::npos) {
      int n = SSL_read(ssl, buf, sizeof buf);
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<std::size_t>(n));
    }
    const std::string expected = header[0] == 'P' ? "remote=[2001:db8::7]:50000 local=[2001:db8::1]:8443\nping"
                                                  : "remote=203.0.113.7:40000 local=198.51.100.9:8080\nping";
    EXPECT_EQ(got, expected);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close_fd(fd);
  }
  SSL_CTX_free(ctx);
  EXPECT_TRUE(eventually([&] { return echo.closed == 2; }));
  EXPECT_EQ(echo.opened, 2);
  EXPECT_TRUE(logs.snapshot().empty());
}

// Plaintext where the header should be, on a TLS listener: the header check refuses it before
// any TLS handshake starts.
TEST(ProxyProtocol, TlsListenerStillRequiresTheHeader) {
  TestPki pki;
  auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
  AddressEcho echo;
  LogLines logs;
  Options o = quiet_options(logs);
  o.tls.certificate = {cert.chain_file, cert.key_file};
  ServerThread server(echo, "tls://127.0.0.1:0?proxy_protocol=1", o);
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  send_all(fd, std::string("\x16\x03\x01\x00\x05hello", 10));  // a TLS record, no header
  EXPECT_TRUE(wait_closed(fd));
  close_fd(fd);
  ASSERT_TRUE(eventually([&] { return logs.snapshot().size() == 1; }));
  EXPECT_EQ(echo.opened, 0);
  EXPECT_EQ(echo.closed, 0);
}

TEST(ProxyProtocol, RefusedOnUdpListenersAndDials) {
  AddressEcho echo;
  LogLines logs;
  auto r = gnet::run(echo, "udp://127.0.0.1:0?proxy_protocol=1", quiet_options(logs));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::bad_address);
  EXPECT_NE(r.error().message().find("proxy_protocol applies to stream listeners"), std::string::npos)
      << r.error().message();

  Client client(echo, quiet_options(logs));
  ASSERT_TRUE(client.start());
  auto h = client.dial_sync("tcp://127.0.0.1:1?proxy_protocol=1", 5s);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), Errc::bad_address);
}

// A Unix stream listener behind a local balancer (HAProxy can connect to one): the header gives
// the IP addresses a Unix socket cannot.
TEST(ProxyProtocol, UnixListener) {
  AddressEcho echo;
  LogLines logs;
  const std::string name = "@gnet-proxy-test-" + std::to_string(::getpid());
  ServerThread server(echo, "unix://" + name + "?proxy_protocol=1", quiet_options(logs));
  ASSERT_TRUE(server.ok());
  int fd = connect_unix(name, SOCK_STREAM);
  send_all(fd, "PROXY TCP4 192.0.2.44 192.0.2.1 4444 80\r\nunix payload");
  EXPECT_EQ(read_line(fd), "remote=192.0.2.44:4444 local=192.0.2.1:80\n");
  EXPECT_EQ(recv_exact(fd, 12), "unix payload");
  close_fd(fd);
  EXPECT_TRUE(eventually([&] { return echo.closed == 1; }));
  EXPECT_TRUE(logs.snapshot().empty());
}

// The same peer leaving with a reset (SO_LINGER 0), as HAProxy ends its checks: still no error.
TEST(ProxyProtocol, SilentPeerResettingIsNotAnError) {
  AddressEcho echo;
  LogLines logs;
  ServerThread server(echo, "tcp://127.0.0.1:0?proxy_protocol=1", quiet_options(logs));
  ASSERT_TRUE(server.ok());
  int fd = connect_tcp(server.port());
  ::linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  // The server must have accepted before the reset, or the kernel drops it unseen.
  ASSERT_TRUE(eventually([&] { return server.engine().metrics().total.accepted == 1; }));
  close_fd(fd);
  ASSERT_TRUE(eventually([&] { return server.engine().metrics().total.closed == 1; }));
  EXPECT_EQ(server.engine().metrics().total.closed_with_error, 0u);
  EXPECT_EQ(echo.opened, 0);
  EXPECT_EQ(echo.closed, 0);
  EXPECT_TRUE(logs.snapshot().empty());
}
