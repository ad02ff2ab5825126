// The gnet error category and errno-to-Error conversion.
#include <cstring>

#include "gnet/error.hpp"

namespace gnet {
namespace {

class GnetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gnet"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::ok: return "success";
      case Errc::bad_address: return "bad address";
      case Errc::connection_closed: return "connection closed";
      case Errc::engine_stopped: return "engine stopped";
      case Errc::shutdown_deadline: return "shutdown deadline passed with output still queued";
      case Errc::timed_out: return "timed out";
      case Errc::handler_exception: return "event handler threw an exception";
      case Errc::idle_timeout: return "idle timeout";
      case Errc::inbound_limit: return "unconsumed input passed max_inbound_buffered";
      case Errc::not_writable: return "connection takes no output (write side shut, or a read-only pipe)";
      case Errc::bad_listener: return "inherited descriptor is not a listening socket for this address";
      case Errc::handover_failed: return "listener hand-over failed";
      case Errc::not_datagram: return "not an unconnected UDP socket (send_to)";
      case Errc::bad_proxy_header: return "no valid PROXY protocol header";
    }
    return "unknown gnet error";
  }
};

}  // namespace

const std::error_category& gnet_category() noexcept {
  static const GnetCategory category;
  return category;
}

Error system_error(int err, const std::string& what) {
  std::error_code code(err, std::system_category());
  return Error(code, what + ": " + code.message());
}

}  // namespace gnet
