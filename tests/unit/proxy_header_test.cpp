// PROXY protocol header parsing (net/proxy_header.hpp): v1 and v2 forms, every prefix of a good
// header asks for more, and bad input is refused as early as it can be, within the bounds.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

#include "gnet/proxy_protocol.hpp"
#include "net/proxy_header.hpp"
#include "proxy_v2_header.hpp"

using gnet::detail::kProxyV1MaxLength;
using gnet::detail::kProxyV2MaxLength;
using gnet::detail::parse_proxy_header;
using gnet::detail::ProxyHeader;
using Status = ProxyHeader::Status;

namespace {

using gnet::test::proxy_v2;

std::string v2_ipv4_body() {
  // 192.0.2.1:56324 -> 198.51.100.2:443
  return std::string("\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x01\xbb", 12);
}

// Every proper prefix of a complete header needs more; the whole parses.
void expect_prefixes_need_more(const std::string& header) {
  for (std::size_t n = 0; n < header.size(); ++n) {
    ProxyHeader h = parse_proxy_header(std::string_view(header).substr(0, n));
    ASSERT_EQ(h.status, Status::needs_more) << "prefix of " << n << " bytes: " << h.error;
  }
}

}  // namespace

TEST(ProxyHeader, V1Tcp4) {
  const std::string header = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
  ProxyHeader h = parse_proxy_header(header + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(h.status, Status::parsed) << h.error;
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.length, header.size());
  ASSERT_TRUE(h.has_addresses);
  EXPECT_EQ(h.source.to_string(), "192.0.2.1:56324");
  EXPECT_EQ(h.destination.to_string(), "198.51.100.2:443");
  expect_prefixes_need_more(header);
}

TEST(ProxyHeader, V1Tcp6) {
  const std::string header = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
  ProxyHeader h = parse_proxy_header(header);
  ASSERT_EQ(h.status, Status::parsed) << h.error;
  ASSERT_TRUE(h.has_addresses);
  EXPECT_EQ(h.source.to_string(), "[2001:db8::1]:65535");
  EXPECT_EQ(h.destination.to_string(), "[::1]:0");
}

TEST(ProxyHeader, V1Unknown) {
  for (std::string header : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"}) {
    ProxyHeader h = parse_proxy_header(header + "x");
    ASSERT_EQ(h.status, Status::parsed) << header << ": " << h.error;
    EXPECT_EQ(h.length, header.size());
    EXPECT_FALSE(h.has_addresses);
  }
}

TEST(ProxyHeader, V1LongestAllowedAndOneMore) {
  // 107 bytes with the CRLF is the spec's worst case; UNKNOWN lets us pad to exactly that.
  // (Built with append: GCC 12 at -O3 warns falsely on literal + string(n, c) + literal.)
  auto unknown_padded = [](std::size_t pad, bool crlf) {
    std::string line = "PROXY UNKNOWN ";
    line.append(pad, 'x');
    if (crlf) line.append("\r\n");
    return line;
  };
  std::string longest = unknown_padded(107 - 14 - 2, true);
  ASSERT_EQ(longest.size(), kProxyV1MaxLength);
  EXPECT_EQ(parse_proxy_header(longest).status, Status::parsed);
  std::string too_long = unknown_padded(107 - 14 - 1, true);
  EXPECT_EQ(parse_proxy_header(too_long).status, Status::bad);
  // No CRLF at all: refused once 107 bytes are in, not later.
  std::string endless = unknown_padded(200, false);
  EXPECT_EQ(parse_proxy_header(endless.substr(0, 106)).status, Status::needs_more);
  EXPECT_EQ(parse_proxy_header(endless.substr(0, 107)).status, Status::bad);
}

TEST(ProxyHeader, V1Malformed) {
  for (std::string bad : {
           "GET / HTTP/1.1\r\n",                                  // not a header at all
           "PROXZ",                                               // wrong prefix, caught early
           "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",                  // unknown protocol
           "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",                    // missing field
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",                // extra field
           "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",                 // double space
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",                 // trailing space
           "PROXY TCP4 ::1 ::1 1 2\r\n",                          // IPv6 under TCP4
           "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",                  // IPv4 under TCP6
           "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",              // port out of range
           "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",                // leading zero
           "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",                 // sign
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",                   // CR without LF
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",                    // LF without CR
           "PROXY \r\n",                                          // nothing
       }) {
    ProxyHeader h = parse_proxy_header(bad);
    EXPECT_EQ(h.status, Status::bad) << bad;
    EXPECT_STRNE(h.error, "") << bad;
  }
  EXPECT_EQ(parse_proxy_header(std::string("PROXY TCP4 1.2.3.4\0", 19)).status, Status::bad);
}

TEST(ProxyHeader, V2ProxyIpv4) {
  const std::string header = proxy_v2(1, 0x11, v2_ipv4_body());
  ProxyHeader h = parse_proxy_header(header + "payload");
  ASSERT_EQ(h.status, Status::parsed) << h.error;
  EXPECT_EQ(h.version, 2);
  EXPECT_EQ(h.length, 28u);
  ASSERT_TRUE(h.has_addresses);
  EXPECT_EQ(h.source.to_string(), "192.0.2.1:56324");
  EXPECT_EQ(h.destination.to_string(), "198.51.100.2:443");
  expect_prefixes_need_more(header);
}

TEST(ProxyHeader, V2ProxyIpv6WithTlvs) {
  std::string body(16, '\0');
  body[0] = '\x20'; body[1] = '\x01'; body[2] = '\x0d'; body[3] = '\xb8'; body[15] = '\x07';  // 2001:db8::7
  body.append(15, '\0');  // ::1 (appended, not `string(15, 0) + "\x01"`: GCC 12 -O2 warns on that)
  body.push_back('\x01');
  body += std::string("\x12\x34\x00\x50", 4);                                        // 4660 -> 80
  body += std::string("\x01\x00\x02h2", 5);                                          // TLV ALPN "h2"
  body += std::string("\x04\x00\x00", 3);                                            // TLV NOOP, empty
  body += std::string("\xe0\x00\x05hello", 8);                                       // custom TLV
  const std::string header = proxy_v2(1, 0x21, body);
  ProxyHeader h = parse_proxy_header(header + "rest");
  ASSERT_EQ(h.status, Status::parsed) << h.error;
  EXPECT_EQ(h.length, header.size());
  ASSERT_TRUE(h.has_addresses);
  EXPECT_EQ(h.source.to_string(), "[2001:db8::7]:4660");
  EXPECT_EQ(h.destination.to_string(), "[::1]:80");
  expect_prefixes_need_more(header);
}

TEST(ProxyHeader, V2LocalAndUnspecKeepTheSocketsAddresses) {
  ProxyHeader local = parse_proxy_header(proxy_v2(0, 0x00, ""));
  ASSERT_EQ(local.status, Status::parsed) << local.error;
  EXPECT_EQ(local.length, 16u);
  EXPECT_FALSE(local.has_addresses);
  // LOCAL with addresses: still ignored.
  ProxyHeader local4 = parse_proxy_header(proxy_v2(0, 0x11, v2_ipv4_body()));
  ASSERT_EQ(local4.status, Status::parsed);
  EXPECT_FALSE(local4.has_addresses);
  ProxyHeader unspec = parse_proxy_header(proxy_v2(1, 0x00, "abc"));
  ASSERT_EQ(unspec.status, Status::parsed);
  EXPECT_FALSE(unspec.has_addresses);
  ProxyHeader unix_family = parse_proxy_header(proxy_v2(1, 0x31, std::string(216, 'u')));
  ASSERT_EQ(unix_family.status, Status::parsed);
  EXPECT_FALSE(unix_family.has_addresses);
}

TEST(ProxyHeader, V2Malformed) {
  std::string wrong_sig = proxy_v2(1, 0x11, v2_ipv4_body());
  wrong_sig[7] = 'q';
  EXPECT_EQ(parse_proxy_header(wrong_sig).status, Status::bad);
  EXPECT_EQ(parse_proxy_header(wrong_sig.substr(0, 8)).status, Status::bad);  // caught at the byte
  std::string v3 = proxy_v2(1, 0x11, v2_ipv4_body());
  v3[12] = '\x31';
  EXPECT_EQ(parse_proxy_header(v3).status, Status::bad);
  EXPECT_EQ(parse_proxy_header(proxy_v2(2, 0x11, v2_ipv4_body())).status, Status::bad);        // command 2
  EXPECT_EQ(parse_proxy_header(proxy_v2(1, 0x41, v2_ipv4_body())).status, Status::bad);        // family 4
  EXPECT_EQ(parse_proxy_header(proxy_v2(1, 0x13, v2_ipv4_body())).status, Status::bad);        // transport 3
  EXPECT_EQ(parse_proxy_header(proxy_v2(1, 0x11, v2_ipv4_body().substr(0, 11))).status, Status::bad);
  EXPECT_EQ(parse_proxy_header(proxy_v2(1, 0x21, std::string(35, '\0'))).status, Status::bad);
  EXPECT_EQ(parse_proxy_header(proxy_v2(1, 0x31, std::string(215, '\0'))).status, Status::bad);
}

TEST(ProxyHeader, V2LargestHeaderIsBounded) {
  std::string body = v2_ipv4_body();
  body.append(65535 - 12, '\0');  // appended: GCC 12 -O2/-O3 warns falsely on `body() + string(n, 0)`
  const std::string header = proxy_v2(1, 0x11, body);
  ASSERT_EQ(header.size(), kProxyV2MaxLength);
  EXPECT_EQ(parse_proxy_header(std::string_view(header).substr(0, header.size() - 1)).status, Status::needs_more);
  ProxyHeader h = parse_proxy_header(header + "after");
  ASSERT_EQ(h.status, Status::parsed);
  EXPECT_EQ(h.length, kProxyV2MaxLength);
}

// ---- the sending side: gnet::make_proxy_header ----

namespace {

gnet::SocketAddress ip(const char* text, std::uint16_t port) {
  sockaddr_in in{};
  if (::inet_pton(AF_INET, text, &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    return gnet::SocketAddress(reinterpret_cast<const sockaddr*>(&in), sizeof in);
  }
  sockaddr_in6 in6{};
  EXPECT_EQ(::inet_pton(AF_INET6, text, &in6.sin6_addr), 1) << text;
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  return gnet::SocketAddress(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
}

using gnet::make_proxy_header;
using V = gnet::ProxyHeaderVersion;

}  // namespace

TEST(MakeProxyHeader, Ipv4IsTheSpecsExampleInBothVersions) {
  const auto src = ip("192.0.2.1", 56324), dst = ip("198.51.100.2", 443);
  EXPECT_EQ(make_proxy_header(V::v1, src, dst), "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n");
  EXPECT_EQ(make_proxy_header(V::v2, src, dst), proxy_v2(1, 0x11, v2_ipv4_body()));
}

TEST(MakeProxyHeader, WhatItWritesTheParserReadsBack) {
  struct Case {
    gnet::SocketAddress src, dst;
    std::string want_src, want_dst;
  };
  const Case cases[] = {
      {ip("10.1.2.3", 1), ip("10.9.8.7", 65535), "10.1.2.3:1", "10.9.8.7:65535"},
      {ip("2001:db8::1", 40000), ip("::1", 8080), "[2001:db8::1]:40000", "[::1]:8080"},
      // One of each family: the IPv4 one mapped into IPv6, nothing lost.
      {ip("127.0.0.1", 1234), ip("::1", 80), "[::ffff:127.0.0.1]:1234", "[::1]:80"},
      {ip("fe80::1", 5), ip("192.168.1.1", 6), "[fe80::1]:5", "[::ffff:192.168.1.1]:6"},
  };
  for (const Case& c : cases) {
    for (V version : {V::v1, V::v2}) {
      const std::string header = make_proxy_header(version, c.src, c.dst);
      ProxyHeader h = parse_proxy_header(header + "payload");
      ASSERT_EQ(h.status, Status::parsed) << header << ": " << h.error;
      EXPECT_EQ(h.version, version == V::v1 ? 1 : 2);
      EXPECT_EQ(h.length, header.size());
      ASSERT_TRUE(h.has_addresses);
      EXPECT_EQ(h.source.to_string(), c.want_src);
      EXPECT_EQ(h.destination.to_string(), c.want_dst);
      EXPECT_LE(header.size(), version == V::v1 ? kProxyV1MaxLength : std::size_t{16 + 36});
    }
  }
}

TEST(MakeProxyHeader, NonIpAddressesSayUnknown) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/tmp/client.sock");
  const gnet::SocketAddress unix_addr(reinterpret_cast<const sockaddr*>(&un), sizeof un);
  for (const auto& [src, dst] : {std::pair{unix_addr, ip("127.0.0.1", 80)},
                                 std::pair{ip("127.0.0.1", 80), gnet::SocketAddress{}}}) {
    EXPECT_EQ(make_proxy_header(V::v1, src, dst), "PROXY UNKNOWN\r\n");
    const std::string v2 = make_proxy_header(V::v2, src, dst);
    EXPECT_EQ(v2, proxy_v2(1, 0x00, ""));
    ProxyHeader h = parse_proxy_header(v2);
    ASSERT_EQ(h.status, Status::parsed) << h.error;
    EXPECT_FALSE(h.has_addresses);  // the receiver keeps the connection's own addresses
  }
}
