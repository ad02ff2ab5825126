// The tls_category() of gnet/tls.hpp.
#include "gnet/tls.hpp"

#include <string>

namespace gnet {
namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    switch (static_cast<TlsErrc>(value)) {
      case TlsErrc::handshake_failed: return "TLS handshake failed";
      case TlsErrc::handshake_timeout: return "TLS handshake timed out";
      case TlsErrc::not_tls: return "peer does not speak TLS (plaintext on a TLS port?)";
      case TlsErrc::protocol_version: return "no TLS version in common (1.2 and 1.3 only)";
      case TlsErrc::certificate_expired: return "peer certificate expired or not yet valid";
      case TlsErrc::certificate_untrusted: return "peer certificate not trusted (unknown CA or self-signed)";
      case TlsErrc::hostname_mismatch: return "peer certificate does not match the host name";
      case TlsErrc::certificate_required: return "peer sent no certificate where one is required";
      case TlsErrc::peer_alert: return "peer refused the handshake with an alert";
      case TlsErrc::no_alpn_match: return "no ALPN protocol in common";
      case TlsErrc::bad_record: return "corrupt TLS record";
    }
    return "unknown TLS error";
  }
};

}  // namespace

const std::error_category& tls_category() noexcept {
  static const TlsCategory category;
  return category;
}

}  // namespace gnet
