// Unit tests of examples/websocket/ws_handshake: request parsing, upgrade validation and the
// Sec-WebSocket-Accept computation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws_handshake.hpp"

namespace {

using ws::ParseStatus;

const std::string kGoodUpgrade =
    "GET /ws HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

ws::HttpRequest parse_ok(const std::string& text) {
  ws::ParseResult p = ws::parse_request(text);
  EXPECT_EQ(p.status, ParseStatus::complete) << p.error;
  EXPECT_EQ(p.consumed, text.size());
  return p.request;
}

// Replaces the header line starting with name (or appends one when absent); value "" removes it.
std::string with_header(std::string req, const std::string& name, const std::string& value) {
  std::size_t pos = req.find("\r\n" + name + ":");
  if (pos != std::string::npos) {
    std::size_t end = req.find("\r\n", pos + 2);
    req.erase(pos, end - pos);
  }
  if (!value.empty()) req.insert(req.size() - 2, name + ": " + value + "\r\n");
  return req;
}

TEST(WebSocketHandshake, AcceptKeyFromRfc6455Example) {
  EXPECT_EQ(ws::compute_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, ClientKeyFormat) {
  EXPECT_TRUE(ws::is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(ws::is_valid_client_key("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_FALSE(ws::is_valid_client_key(""));
  EXPECT_FALSE(ws::is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ"));      // no padding
  EXPECT_FALSE(ws::is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ="));     // 23 characters
  EXPECT_FALSE(ws::is_valid_client_key("dGhlIHNhbXBsZSBub25jZXg="));    // 17 bytes
  EXPECT_FALSE(ws::is_valid_client_key("dGhlIHNhbXBsZSBub25j*Q=="));    // not base64
  EXPECT_FALSE(ws::is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ==AAAA"));
}

TEST(WebSocketHandshake, ParsesRequestHead) {
  ws::HttpRequest r = parse_ok(kGoodUpgrade);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/ws");
  EXPECT_EQ(r.path, "/ws");
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_EQ(r.header("host").value_or(""), "server.example.com");
  EXPECT_EQ(r.header("SEC-WEBSOCKET-KEY").value_or(""), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_FALSE(r.header("Cookie"));
  EXPECT_TRUE(r.has_token("Connection", "upgrade"));
  EXPECT_TRUE(r.keep_alive());
}

TEST(WebSocketHandshake, QueryStringIsNotPartOfThePath) {
  ws::HttpRequest r = parse_ok("GET /ws?room=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.path, "/ws");
  EXPECT_EQ(r.target, "/ws?room=1");
}

TEST(WebSocketHandshake, TokensInListsAndRepeatedHeaders) {
  ws::HttpRequest r = parse_ok(
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive,  Upgrade \r\nX-A: 1\r\nx-a: 2\r\n\r\n");
  EXPECT_TRUE(r.has_token("Connection", "upgrade"));
  EXPECT_TRUE(r.has_token("connection", "KEEP-ALIVE"));
  EXPECT_FALSE(r.has_token("Connection", "close"));
  EXPECT_EQ(r.header("X-A").value_or(""), "1, 2");
}

TEST(WebSocketHandshake, KeepAliveRules) {
  EXPECT_TRUE(parse_ok("GET / HTTP/1.1\r\nHost: x\r\n\r\n").keep_alive());
  EXPECT_FALSE(parse_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive());
  EXPECT_FALSE(parse_ok("GET / HTTP/1.0\r\n\r\n").keep_alive());
  EXPECT_TRUE(parse_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
}

TEST(WebSocketHandshake, IncompleteUntilTheBlankLine) {
  for (std::size_t cut = 0; cut < kGoodUpgrade.size(); ++cut) {
    EXPECT_EQ(ws::parse_request(kGoodUpgrade.substr(0, cut)).status, ParseStatus::incomplete) << cut;
  }
}

TEST(WebSocketHandshake, ConsumesOnlyTheHead) {
  std::string data = kGoodUpgrade + "\x81\x85";  // a frame right behind the request
  ws::ParseResult p = ws::parse_request(data);
  ASSERT_EQ(p.status, ParseStatus::complete);
  EXPECT_EQ(p.consumed, kGoodUpgrade.size());
}

TEST(WebSocketHandshake, OversizedHeadIsTooLarge) {
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(ws::kMaxRequestHead, 'a');
  EXPECT_EQ(ws::parse_request(big).status, ParseStatus::too_large);
  EXPECT_EQ(ws::parse_request(big + "\r\n\r\n").status, ParseStatus::too_large);
}

TEST(WebSocketHandshake, MalformedHeadsAreBad) {
  for (const char* text : {
           "GET\r\n\r\n",
           "GET /\r\n\r\n",
           "GET / HTTP/2.0\r\n\r\n",
           "GET / FOO/1.1\r\n\r\n",
           "G(T / HTTP/1.1\r\n\r\n",
           "GET  / HTTP/1.1\r\n\r\n",
           "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
           "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
           "GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n",
       }) {
    ws::ParseResult p = ws::parse_request(text);
    EXPECT_EQ(p.status, ParseStatus::bad) << text;
    EXPECT_FALSE(p.error.empty()) << text;
  }
}

TEST(WebSocketHandshake, ValidUpgradeGets101WithAccept) {
  ws::UpgradeResult u = ws::validate_upgrade(parse_ok(kGoodUpgrade));
  ASSERT_TRUE(u.ok) << u.error;
  EXPECT_EQ(u.status, 101);
  EXPECT_EQ(u.response,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
}

TEST(WebSocketHandshake, HeaderValuesAreCaseInsensitiveWhereTheRfcSaysSo) {
  std::string req = with_header(kGoodUpgrade, "Upgrade", "WebSocket");
  req = with_header(req, "Connection", "keep-alive, upgrade");
  EXPECT_TRUE(ws::validate_upgrade(parse_ok(req)).ok);
}

struct Refusal {
  const char* name;
  std::string request;
  int status;
};

TEST(WebSocketHandshake, EachInvalidUpgradeIsRefused) {
  const std::string g = kGoodUpgrade;
  std::string post = g;
  post.replace(0, 3, "POST");
  std::string http10 = g;
  http10.replace(g.find("HTTP/1.1"), 8, "HTTP/1.0");
  const Refusal cases[] = {
      {"POST", post, 400},
      {"HTTP/1.0", http10, 400},
      {"no Host", with_header(g, "Host", ""), 400},
      {"no Upgrade", with_header(g, "Upgrade", ""), 426},
      {"Upgrade: h2c", with_header(g, "Upgrade", "h2c"), 400},
      {"no Connection", with_header(g, "Connection", ""), 400},
      {"Connection: keep-alive", with_header(g, "Connection", "keep-alive"), 400},
      {"no key", with_header(g, "Sec-WebSocket-Key", ""), 400},
      {"short key", with_header(g, "Sec-WebSocket-Key", "abc"), 400},
      {"two keys", g.substr(0, g.size() - 2) + "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n", 400},
      {"no version", with_header(g, "Sec-WebSocket-Version", ""), 426},
      {"version 8", with_header(g, "Sec-WebSocket-Version", "8"), 426},
  };
  for (const Refusal& c : cases) {
    ws::UpgradeResult u = ws::validate_upgrade(parse_ok(c.request));
    EXPECT_FALSE(u.ok) << c.name;
    EXPECT_EQ(u.status, c.status) << c.name;
    EXPECT_EQ(u.response.rfind("HTTP/1.1 " + std::to_string(c.status) + " ", 0), 0u) << c.name;
    EXPECT_NE(u.response.find("Connection: close\r\n"), std::string::npos) << c.name;
    EXPECT_FALSE(u.error.empty()) << c.name;
  }
  ws::UpgradeResult v8 = ws::validate_upgrade(parse_ok(with_header(g, "Sec-WebSocket-Version", "8")));
  EXPECT_NE(v8.response.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
}

TEST(WebSocketHandshake, WithoutAnAllowListOriginIsNotChecked) {
  // Today's behaviour, documented as a risk: any page may connect.
  EXPECT_TRUE(ws::validate_upgrade(parse_ok(with_header(kGoodUpgrade, "Origin", "http://evil.example"))).ok);
  EXPECT_TRUE(ws::validate_upgrade(parse_ok(with_header(kGoodUpgrade, "Origin", ""))).ok);
}

TEST(WebSocketHandshake, AllowedOriginsRefuseOtherPagesWith403) {
  const std::vector<std::string> allowed = {"http://example.com", "https://Chat.Example:8443"};
  const std::string g = kGoodUpgrade;  // Origin: http://example.com
  EXPECT_TRUE(ws::validate_upgrade(parse_ok(g), allowed).ok);
  EXPECT_TRUE(ws::validate_upgrade(parse_ok(with_header(g, "Origin", "https://chat.example:8443")), allowed).ok);
  EXPECT_TRUE(ws::validate_upgrade(parse_ok(with_header(g, "Origin", "HTTP://EXAMPLE.COM")), allowed).ok);
  const Refusal refused[] = {
      {"other site", with_header(g, "Origin", "http://evil.example"), 403},
      {"suffix of an allowed one", with_header(g, "Origin", "http://example.com.evil.example"), 403},
      {"other scheme", with_header(g, "Origin", "https://example.com"), 403},
      {"other port", with_header(g, "Origin", "https://chat.example"), 403},
      {"opaque origin", with_header(g, "Origin", "null"), 403},
      {"no Origin", with_header(g, "Origin", ""), 403},
      {"two Origins", g.substr(0, g.size() - 2) + "Origin: http://evil.example\r\n\r\n", 403},
  };
  for (const Refusal& c : refused) {
    ws::UpgradeResult u = ws::validate_upgrade(parse_ok(c.request), allowed);
    EXPECT_FALSE(u.ok) << c.name;
    EXPECT_EQ(u.status, 403) << c.name;
    EXPECT_EQ(u.response.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << c.name;
  }
  // Other faults keep their own status: the Origin check comes last.
  EXPECT_EQ(ws::validate_upgrade(parse_ok(with_header(g, "Sec-WebSocket-Version", "8")), allowed).status, 426);
}

TEST(WebSocketHandshake, AllowedOriginEntriesAreOrigins) {
  for (const char* good : {"https://chat.example.com", "http://127.0.0.1:8080", "null", "http://[::1]:9"}) {
    EXPECT_EQ(ws::origin_entry_problem(good), "") << good;
  }
  for (const char* bad : {"", "chat.example.com", "https://", "https://chat.example.com/", "https://a/b",
                          "://x", "ht tp://x", "http://a b"}) {
    EXPECT_NE(ws::origin_entry_problem(bad), "") << bad;
  }
}

TEST(WebSocketHandshake, ResponsesCarryContentLength) {
  std::string r = ws::http_response(404, "text/plain", "nope", true);
  EXPECT_EQ(r, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope");
  std::string c = ws::http_response(200, "text/html", "", false, "X-Y: z\r\n");
  EXPECT_EQ(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\nX-Y: z\r\n\r\n");
}

}  // namespace
