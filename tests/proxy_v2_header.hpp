// A PROXY protocol v2 header for the tests (tests/unit/proxy_header_test.cpp, the parser;
// tests/net/proxy_protocol_test.cpp, over sockets): signature, version 2 + command, family and
// transport, body length, body. cmd 0 = LOCAL, 1 = PROXY; fam 0x11 = TCP over IPv4, 0x21 = over
// IPv6, 0x31 = Unix stream, 0x00 = unspecified.
#pragma once

#include <string>

namespace gnet::test {

inline std::string proxy_v2(unsigned char cmd, unsigned char fam, const std::string& body) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h.push_back(static_cast<char>(0x20 | cmd));
  h.push_back(static_cast<char>(fam));
  h.push_back(static_cast<char>(body.size() >> 8));
  h.push_back(static_cast<char>(body.size() & 0xff));
  return h + body;
}

}  // namespace gnet::test
