// Address parsing: every accepted form, and every rejected one with its message.
#include <gtest/gtest.h>

#include <gnet/address.hpp>

using gnet::Address;
using gnet::Family;
using gnet::Network;
using gnet::parse_address;

TEST(Address, ProxyProtocolQuery) {
  auto a = parse_address("tcp://127.0.0.1:9000?proxy_protocol=1");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_TRUE(a->proxy_protocol);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9000);
  EXPECT_EQ(a->to_string(), "tcp://127.0.0.1:9000?proxy_protocol=1");

  auto t = parse_address("tls6://[::1]:8443?proxy_protocol=true");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_TRUE(t->tls);
  EXPECT_TRUE(t->proxy_protocol);
  EXPECT_EQ(t->to_string(), "tls6://[::1]:8443?proxy_protocol=1");

  auto off = parse_address("tcp://:9000?proxy_protocol=0");
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->proxy_protocol);
  EXPECT_EQ(off->to_string(), "tcp://:9000");

  auto u = parse_address("unix:///tmp/gnet.sock?proxy_protocol=1");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->path, "/tmp/gnet.sock");
  EXPECT_TRUE(u->proxy_protocol);
  EXPECT_EQ(u->to_string(), "unix:///tmp/gnet.sock?proxy_protocol=1");

  auto plain = parse_address("tcp://:9000");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->proxy_protocol);
}

TEST(Address, ParsesIpForms) {
  auto a = parse_address("tcp://127.0.0.1:9000");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->network, Network::tcp);
  EXPECT_EQ(a->family, Family::any);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9000);

  auto any = parse_address("tcp://:9000");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->host, "");

  auto v6 = parse_address("tcp://[::1]:9000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "tcp://[::1]:9000");

  auto t4 = parse_address("tcp4://0.0.0.0:0");
  ASSERT_TRUE(t4);
  EXPECT_EQ(t4->family, Family::ipv4);
  auto t6 = parse_address("tcp6://[::]:65535");
  ASSERT_TRUE(t6);
  EXPECT_EQ(t6->family, Family::ipv6);
  EXPECT_EQ(t6->port, 65535);

  auto u = parse_address("udp6://[fe80::1]:53");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->network, Network::udp);

  auto name = parse_address("tcp://localhost:80");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "localhost");
}

TEST(Address, ParsesUnixForms) {
  auto p = parse_address("unix:///tmp/x.sock");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->network, Network::unix_stream);
  EXPECT_EQ(p->path, "/tmp/x.sock");
  EXPECT_FALSE(p->abstract);

  auto abs = parse_address("unix://@gnet-test");
  ASSERT_TRUE(abs);
  EXPECT_TRUE(abs->abstract);
  EXPECT_EQ(abs->path, "gnet-test");
  EXPECT_EQ(abs->to_string(), "unix://@gnet-test");

  auto pk = parse_address("unixpacket:///run/p.sock");
  ASSERT_TRUE(pk);
  EXPECT_EQ(pk->network, Network::unix_packet);
}

struct BadCase {
  const char* input;
  const char* message;  // the full message parse_address must give
};

class AddressRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(AddressRejects, WithAMessageNamingInputAndReason) {
  auto r = parse_address(GetParam().input);
  ASSERT_FALSE(r) << GetParam().input;
  EXPECT_EQ(r.error().code(), gnet::Errc::bad_address);
  EXPECT_EQ(r.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Invalid, AddressRejects,
    ::testing::Values(
        BadCase{"127.0.0.1:9000", "bad address \"127.0.0.1:9000\": missing scheme (expected tcp://, tcp4://, tcp6://, tls://, tls4://, tls6://, udp://, udp4://, udp6://, unix:// or unixpacket://)"},
        BadCase{"http://x:1", "bad address \"http://x:1\": unknown scheme \"http\""},
        BadCase{"tcp://", "bad address \"tcp://\": missing host:port"},
        BadCase{"tcp://127.0.0.1", "bad address \"tcp://127.0.0.1\": missing :port"},
        BadCase{"tcp://127.0.0.1:", "bad address \"tcp://127.0.0.1:\": missing port number"},
        BadCase{"tcp://:70000", "bad address \"tcp://:70000\": port out of range (0-65535)"},
        BadCase{"tcp://:99999999999999999999", "bad address \"tcp://:99999999999999999999\": port out of range (0-65535)"},
        BadCase{"tcp://:http", "bad address \"tcp://:http\": port \"http\" is not a number"},
        BadCase{"tcp://:-1", "bad address \"tcp://:-1\": port \"-1\" is not a number"},
        BadCase{"tcp://::1:9000", "bad address \"tcp://::1:9000\": IPv6 literals need brackets, e.g. tcp://[::1]:9000"},
        BadCase{"tcp://[::1:9000", "bad address \"tcp://[::1:9000\": unterminated '[' in IPv6 literal"},
        BadCase{"tcp://[::1]", "bad address \"tcp://[::1]\": missing :port after IPv6 literal"},
        BadCase{"tcp://[1.2.3.4]:80", "bad address \"tcp://[1.2.3.4]:80\": \"1.2.3.4\" is not an IPv6 address"},
        BadCase{"tcp4://[::1]:80", "bad address \"tcp4://[::1]:80\": IPv6 address given to an IPv4-only scheme"},
        BadCase{"tcp6://127.0.0.1:80", "bad address \"tcp6://127.0.0.1:80\": IPv4 address given to an IPv6-only scheme"},
        BadCase{"tcp://bad host:80", "bad address \"tcp://bad host:80\": \"bad host\" is neither an IP address nor a host name"},
        BadCase{"tcp://1.2.3.4:80/path", "bad address \"tcp://1.2.3.4:80/path\": unexpected path after port"},
        BadCase{"tcp://:9000?proxy=1", "bad address \"tcp://:9000?proxy=1\": unknown query key \"proxy\" (known: proxy_protocol)"},
        BadCase{"tcp://:9000?proxy_protocol", "bad address \"tcp://:9000?proxy_protocol\": proxy_protocol needs a value (proxy_protocol=1)"},
        BadCase{"tcp://:9000?proxy_protocol=yes", "bad address \"tcp://:9000?proxy_protocol=yes\": proxy_protocol=yes: expected 1, 0, true or false"},
        BadCase{"tcp://:9000?proxy_protocol=1&", "bad address \"tcp://:9000?proxy_protocol=1&\": unknown query key \"\" (known: proxy_protocol)"},
        BadCase{"udp://:9000?proxy_protocol=1", "bad address \"udp://:9000?proxy_protocol=1\": proxy_protocol applies to stream listeners (tcp, tls, unix) only: load balancers send no PROXY header over datagram or seqpacket sockets"},
        BadCase{"unixpacket:///tmp/x?proxy_protocol=1", "bad address \"unixpacket:///tmp/x?proxy_protocol=1\": proxy_protocol applies to stream listeners (tcp, tls, unix) only: load balancers send no PROXY header over datagram or seqpacket sockets"},
        BadCase{"unix://", "bad address \"unix://\": empty socket path"},
        BadCase{"unix://@", "bad address \"unix://@\": empty abstract socket name"},
        BadCase{"unix:///aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "bad address \"unix:///aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": socket path too long (116 bytes, max 107)"}));
