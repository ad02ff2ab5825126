#include "tls/tls_session.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "tls/tls_context.hpp"

namespace gnet::detail {
namespace {

// ---- the BIO that is the connection ----

int bio_write_cb(BIO* bio, const char* data, int len) {
  static_cast<TlsSession*>(BIO_get_data(bio))->bio_write(std::string_view(data, static_cast<std::size_t>(len)));
  return len;  // the connection takes everything (it queues what the kernel refuses)
}

int bio_read_cb(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  int n = static_cast<TlsSession*>(BIO_get_data(bio))->bio_read(out, len);
  if (n == 0) {
    BIO_set_retry_read(bio);  // no more ciphertext yet: OpenSSL reports WANT_READ
    return -1;
  }
  return n;
}

long bio_ctrl_cb(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create_cb(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* connection_bio() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "gnet connection");
    BIO_meth_set_write(m, bio_write_cb);
    BIO_meth_set_read(m, bio_read_cb);
    BIO_meth_set_ctrl(m, bio_ctrl_cb);
    BIO_meth_set_create(m, bio_create_cb);
    return m;
  }();
  return method;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// What went wrong, as one of TlsErrc: OpenSSL's reason code and the verification result.
TlsErrc classify(SSL* ssl, unsigned long err, bool handshake_done) {
  const int reason = ERR_GET_REASON(err);
  const long verify = SSL_get_verify_result(ssl);
  if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
    switch (verify) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
      case X509_V_ERR_CERT_NOT_YET_VALID: return TlsErrc::certificate_expired;
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH: return TlsErrc::hostname_mismatch;
      default: return TlsErrc::certificate_untrusted;
    }
  }
  switch (reason) {
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL:
      return handshake_done ? TlsErrc::bad_record : TlsErrc::not_tls;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_VERSION_TOO_LOW:
      return TlsErrc::protocol_version;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return TlsErrc::certificate_required;
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
      return TlsErrc::no_alpn_match;
    case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
    case SSL_R_SSLV3_ALERT_BAD_RECORD_MAC:
      return TlsErrc::bad_record;
    default:
      break;
  }
  // Any other alert the peer sent us (reason = 1000 + alert number), e.g. unknown_ca when it
  // did not trust our certificate.
  if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) return TlsErrc::peer_alert;
  return handshake_done ? TlsErrc::bad_record : TlsErrc::handshake_failed;
}

}  // namespace

Result<std::unique_ptr<TlsSession>> TlsSession::create_server(TlsContexts& contexts) {
  std::unique_ptr<TlsSession> s(new TlsSession(contexts));
  if (auto r = s->init(contexts.server(), true); !r) return r.error();
  return s;
}

Result<std::unique_ptr<TlsSession>> TlsSession::create_client(TlsContexts& contexts, const std::string& host,
                                                              const std::string& peer_key) {
  auto ctx = contexts.client();
  if (!ctx) return ctx.error();
  std::unique_ptr<TlsSession> s(new TlsSession(contexts));
  if (auto r = s->init(*ctx, false); !r) return r.error();
  s->peer_key_ = peer_key;
  const std::string& name = contexts.options().server_name.empty() ? host : contexts.options().server_name;
  if (!name.empty()) {
    if (is_ip_literal(name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl_), name.c_str());  // no SNI for an address
    } else {
      SSL_set_tlsext_host_name(s->ssl_, name.c_str());
      SSL_set1_host(s->ssl_, name.c_str());
    }
  }
  if (SSL_SESSION* cached = contexts.take_session(peer_key)) {
    SSL_set_session(s->ssl_, cached);
    SSL_SESSION_free(cached);
  }
  return s;
}

Result<void> TlsSession::init(SSL_CTX* ctx, bool server) {
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return Error(make_error_code(TlsErrc::handshake_failed), "tls: SSL_new: " + take_openssl_errors());
  BIO* bio = BIO_new(connection_bio());
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // the SSL owns it (one reference for both directions)
  SSL_set_app_data(ssl_, this);
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
  return {};
}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

int TlsSession::bio_read(char* out, int len) noexcept {
  auto want = static_cast<std::size_t>(len);
  if (left_pos_ < left_.size()) {
    std::size_t n = std::min(want, left_.size() - left_pos_);
    std::memcpy(out, left_.data() + left_pos_, n);
    left_pos_ += n;
    if (left_pos_ == left_.size()) {
      left_.clear();
      left_.shrink_to_fit();  // an idle connection keeps nothing
      left_pos_ = 0;
    }
    return static_cast<int>(n);
  }
  std::size_t n = std::min(want, view_.size());
  if (n == 0) return 0;
  std::memcpy(out, view_.data(), n);
  view_.remove_prefix(n);
  return static_cast<int>(n);
}

void TlsSession::keep_unread() {
  if (view_.empty()) return;
  left_.append(view_);  // after whatever was kept before: the order of the stream holds
  view_ = {};
}

void TlsSession::drop_unread() noexcept {
  view_ = {};
  std::string().swap(left_);
  left_pos_ = 0;
}

TlsSession::Status TlsSession::fail(int ssl_result) {
  const int e = SSL_get_error(ssl_, ssl_result);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Status::want_input;
  if (e == SSL_ERROR_ZERO_RETURN) return Status::closed;
  const unsigned long err = ERR_peek_last_error();
  error_ = make_error_code(classify(ssl_, err, done_));
  detail_ = take_openssl_errors();
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) detail_ += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
  return Status::failed;
}

TlsSession::Status TlsSession::handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    done_ = true;
    return Status::ok;
  }
  return fail(r);
}

TlsSession::Status TlsSession::read(char* out, int cap, int& n) {
  ERR_clear_error();
  n = SSL_read(ssl_, out, cap);
  if (n > 0) return Status::ok;
  Status s = fail(n);
  n = 0;
  return s;
}

std::error_code TlsSession::write(std::string_view plain) {
  while (!plain.empty()) {
    ERR_clear_error();
    int chunk = static_cast<int>(std::min<std::size_t>(plain.size(), 1u << 30));
    int r = SSL_write(ssl_, plain.data(), chunk);
    if (r <= 0) {
      fail(r);
      return error_ ? error_ : make_error_code(TlsErrc::bad_record);
    }
    plain.remove_prefix(static_cast<std::size_t>(r));
  }
  return {};
}

void TlsSession::close_notify() {
  if (notified_ || !done_) return;
  notified_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // writes close_notify through the sink; we do not wait for the peer's
  ERR_clear_error();
}

std::string_view TlsSession::alpn() const noexcept {
  const unsigned char* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return data == nullptr ? std::string_view{} : std::string_view(reinterpret_cast<const char*>(data), len);
}

std::string_view TlsSession::server_name() const noexcept {
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? std::string_view{} : std::string_view(name);
}

}  // namespace gnet::detail
