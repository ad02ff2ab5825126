// Test helper for examples/redis: commands and bulk strings encoded as a RESP2 client sends
// them, shared by the unit tests and fuzz/resp_parser. Built by appending only: GCC 12's
// -Wrestrict misfires on `"literal" + std::string` at -O2 (a Release build with warnings as
// errors failed on it).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace redis_test {

inline void append_bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out += s;
  out += "\r\n";
}

inline std::string bulk(std::string_view s) {
  std::string out;
  append_bulk(out, s);
  return out;
}

// "*<n>\r\n" then each argument as a bulk string. Args: any range of string-like values.
template <class Args>
std::string cmd(const Args& args) {
  std::string out;
  out += '*';
  out += std::to_string(std::size(args));
  out += "\r\n";
  for (const auto& a : args) append_bulk(out, a);
  return out;
}

inline std::string cmd(std::initializer_list<std::string_view> args) {
  return cmd<std::initializer_list<std::string_view>>(args);
}

// prefix followed by n in decimal ("t7").
inline std::string numbered(std::string_view prefix, int n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

}  // namespace redis_test
