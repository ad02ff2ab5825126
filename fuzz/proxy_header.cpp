// Fuzz harness: the PROXY protocol header parser (src/net/proxy_header.hpp). The connection
// calls it with everything received so far, after every read, so the verdict must not depend
// on where the reads split the bytes: a prefix shorter than a parsed header needs more, a
// longer one parses to the same header, and a refused input stays refused as bytes are added.
// Also: a parsed header lies within the input and within the spec's bounds, with addresses of
// one IP family; a refusal says why.
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "net/proxy_header.hpp"

using gnet::detail::ProxyHeader;
using Status = ProxyHeader::Status;

namespace {

bool same(const ProxyHeader& a, const ProxyHeader& b) {
  return a.status == b.status && a.version == b.version && a.length == b.length && a.has_addresses == b.has_addresses &&
         a.source.to_string() == b.source.to_string() && a.destination.to_string() == b.destination.to_string();
}

void check_alone(std::string_view bytes, const ProxyHeader& h) {
  switch (h.status) {
    case Status::needs_more:
      // Never asks for more past the bound: a peer cannot make the connection buffer more.
      if (bytes.size() >= gnet::detail::kProxyV2MaxLength) std::abort();
      if (!bytes.empty() && bytes[0] != '\r' && bytes.size() >= gnet::detail::kProxyV1MaxLength) std::abort();
      break;
    case Status::bad:
      if (h.error == nullptr || h.error[0] == '\0') std::abort();
      break;
    case Status::parsed:
      if (h.length == 0 || h.length > bytes.size()) std::abort();
      if (h.version == 1 && h.length > gnet::detail::kProxyV1MaxLength) std::abort();
      if (h.version == 2 && (h.length < 16 || h.length > gnet::detail::kProxyV2MaxLength)) std::abort();
      if (h.version != 1 && h.version != 2) std::abort();
      if (h.has_addresses) {
        int f = h.source.family();
        if ((f != AF_INET && f != AF_INET6) || h.destination.family() != f) std::abort();
      } else if (!h.source.empty() || !h.destination.empty()) {
        std::abort();
      }
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ProxyHeader whole = gnet::detail::parse_proxy_header(bytes);
  check_alone(bytes, whole);
  // Prefixes, as successive reads would present them: every one for short inputs, a spread for
  // long ones (the whole check stays linear-ish).
  const std::size_t step = size <= 512 ? 1 : size / 256;
  bool refused = false;
  for (std::size_t n = 0; n <= size; n += step) {
    std::string_view prefix = bytes.substr(0, n);
    ProxyHeader h = gnet::detail::parse_proxy_header(prefix);
    check_alone(prefix, h);
    if (refused && h.status != Status::bad) std::abort();  // once refused, always refused
    refused = h.status == Status::bad;
    switch (whole.status) {
      case Status::parsed:
        if (n < whole.length ? h.status != Status::needs_more : !same(h, whole)) std::abort();
        break;
      case Status::needs_more:
        if (h.status != Status::needs_more) std::abort();
        break;
      case Status::bad:
        if (h.status == Status::parsed) std::abort();
        break;
    }
  }
  return 0;
}
