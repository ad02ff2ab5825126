// Fuzz harness: gnet::parse_address. Any input either parses or comes back as bad_address with a
// message naming the input; a parsed address prints (to_string) to a form that parses back to
// the same fields.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gnet/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = gnet::parse_address(text);
  if (!parsed) {
    if (parsed.error().code() != gnet::Errc::bad_address || parsed.error().message().empty()) std::abort();
    return 0;
  }
  const gnet::Address& a = *parsed;
  auto again = gnet::parse_address(a.to_string());
  if (!again) std::abort();
  const gnet::Address& b = *again;
  if (a.network != b.network || a.family != b.family || a.host != b.host || a.port != b.port ||
      a.path != b.path || a.abstract != b.abstract || a.tls != b.tls || a.proxy_protocol != b.proxy_protocol) {
    std::abort();
  }
  return 0;
}
