#include "tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "tls/tls_session.hpp"

namespace gnet::detail {

std::string take_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown" : out;
}

namespace {

Error tls_setup_error(const std::string& what) {
  return Error(make_error_code(TlsErrc::handshake_failed), "tls: " + what + ": " + take_openssl_errors());
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// What both sides share: versions (1.2 and 1.3 only), no renegotiation, buffers released while
// idle, and the CAs that verify the peer.
Result<void> common_setup(SSL_CTX* ctx, const TlsOptions& o) {
  SSL_CTX_set_min_proto_version(ctx, o.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle connection keeps no record buffers (the memory rule: nothing per idle connection
  // beyond what OpenSSL's session state needs).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (!o.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1) {
      return tls_setup_error("load CA file " + o.ca_file);
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return tls_setup_error("load the system CA store");
  }
  return {};
}

}  // namespace

TlsContexts::~TlsContexts() {
  for (auto& [name, ctx] : named_) SSL_CTX_free(ctx);
  if (server_ != nullptr) SSL_CTX_free(server_);
  if (client_ != nullptr) SSL_CTX_free(client_);
  for (auto& [peer, session] : sessions_) SSL_SESSION_free(session);
}

Result<SSL_CTX*> TlsContexts::make_server_ctx(const TlsCertificate& cert) {
  if (cert.chain_file.empty() || cert.key_file.empty()) {
    return Error(std::make_error_code(std::errc::invalid_argument),
                 "tls: a tls:// listener needs Options::tls.certificate (chain_file and key_file)");
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return tls_setup_error("SSL_CTX_new");
  auto fail = [&](const std::string& what) -> Result<SSL_CTX*> {
    SSL_CTX_free(ctx);
    return tls_setup_error(what);
  };
  if (auto r = common_setup(ctx, options_); !r) {
    SSL_CTX_free(ctx);
    return r.error();
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.chain_file.c_str()) != 1) {
    return fail("certificate chain " + cert.chain_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, cert.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("private key " + cert.key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return fail("key " + cert.key_file + " does not match " + cert.chain_file);
  // The chain is completed once, here, from the chain file and the trusted store. Left to
  // itself OpenSSL would look for missing issuers in the store (the system's CA directory) on
  // every handshake: measured at about 20 % of a full handshake's CPU with a leaf-only file.
  SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR);
  ERR_clear_error();
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
  if (options_.require_client_certificate) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    if (!options_.ca_file.empty()) {
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.ca_file.c_str())) {
        SSL_CTX_set_client_CA_list(ctx, names);
      }
    }
  }
  if (!options_.session_tickets) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);  // tickets only: no per-session server state
  if (!alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, this);
  SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
  SSL_CTX_set_tlsext_servername_arg(ctx, this);
  return ctx;
}

Result<void> TlsContexts::build_server() {
  if (server_ != nullptr) return {};
  for (const std::string& p : options_.alpn) {
    if (p.empty() || p.size() > 255) {
      return Error(std::make_error_code(std::errc::invalid_argument), "tls: ALPN protocol names are 1 to 255 bytes");
    }
  }
  alpn_wire_.clear();
  for (const std::string& p : options_.alpn) {
    alpn_wire_.push_back(static_cast<unsigned char>(p.size()));
    alpn_wire_.insert(alpn_wire_.end(), p.begin(), p.end());
  }
  auto ctx = make_server_ctx(options_.certificate);
  if (!ctx) return ctx.error();
  server_ = *ctx;
  for (const auto& named : options_.sni_certificates) {
    auto c = make_server_ctx(named.certificate);
    if (!c) return Error(c.error().code(), c.error().message() + " (for SNI name " + named.name + ")");
    named_.emplace_back(lower(named.name), *c);
  }
  return {};
}

SSL_CTX* TlsContexts::match_name(const std::string& name) const {
  for (const auto& [pattern, ctx] : named_) {
    if (pattern == name) return ctx;
  }
  for (const auto& [pattern, ctx] : named_) {
    // "*.example.com" covers exactly one more label: a.example.com, not a.b.example.com.
    if (pattern.size() > 2 && pattern.starts_with("*.")) {
      std::string_view suffix = std::string_view(pattern).substr(1);
      if (name.size() > suffix.size() && name.ends_with(suffix) &&
          name.substr(0, name.size() - suffix.size()).find('.') == std::string::npos) {
        return ctx;
      }
    }
  }
  return nullptr;
}

int TlsContexts::on_servername(SSL* ssl, int*, void* arg) {
  auto* self = static_cast<TlsContexts*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr || self->named_.empty()) return SSL_TLSEXT_ERR_OK;
  if (SSL_CTX* ctx = self->match_name(lower(name))) SSL_set_SSL_CTX(ssl, ctx);
  return SSL_TLSEXT_ERR_OK;  // an unknown name gets the default certificate
}

int TlsContexts::on_alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                                unsigned inlen, void* arg) {
  auto* self = static_cast<TlsContexts*>(arg);
  unsigned char* chosen = nullptr;
  // The server's order decides: the first of our protocols that the client offers.
  if (SSL_select_next_proto(&chosen, outlen, self->alpn_wire_.data(), static_cast<unsigned>(self->alpn_wire_.size()),
                            in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol, as RFC 7301 asks
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

Result<SSL_CTX*> TlsContexts::client() {
  std::lock_guard lock(client_mu_);
  if (client_ != nullptr) return client_;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return tls_setup_error("SSL_CTX_new");
  if (auto r = common_setup(ctx, options_); !r) {
    SSL_CTX_free(ctx);
    return r.error();
  }
  SSL_CTX_set_verify(ctx, options_.verify_server ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!options_.certificate.chain_file.empty()) {  // a client certificate, for mutual TLS
    if (SSL_CTX_use_certificate_chain_file(ctx, options_.certificate.chain_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, options_.certificate.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_free(ctx);
      return tls_setup_error("client certificate " + options_.certificate.chain_file);
    }
  }
  if (!options_.alpn.empty()) {
    std::vector<unsigned char> wire;
    for (const std::string& p : options_.alpn) {
      wire.push_back(static_cast<unsigned char>(p.size()));
      wire.insert(wire.end(), p.begin(), p.end());
    }
    SSL_CTX_set_alpn_protos(ctx, wire.data(), static_cast<unsigned>(wire.size()));
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  client_ = ctx;
  return client_;
}

int TlsContexts::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* s = static_cast<TlsSession*>(SSL_get_app_data(ssl));
  if (s == nullptr || s->peer_key().empty()) return 0;
  s->contexts().keep_session(s->peer_key(), session);
  return 1;  // the cache holds the reference OpenSSL gave us
}

SSL_SESSION* TlsContexts::take_session(const std::string& peer) {
  std::lock_guard lock(client_mu_);
  auto it = sessions_.find(peer);
  if (it == sessions_.end()) return nullptr;
  SSL_SESSION_up_ref(it->second);
  return it->second;
}

void TlsContexts::keep_session(const std::string& peer, SSL_SESSION* session) {
  std::lock_guard lock(client_mu_);
  auto it = sessions_.find(peer);
  if (it != sessions_.end()) {
    SSL_SESSION_free(it->second);
    it->second = session;
    return;
  }
  if (sessions_.size() >= kSessionCacheSize) {
    auto oldest = sessions_.find(session_order_.front());
    SSL_SESSION_free(oldest->second);
    sessions_.erase(oldest);
    session_order_.pop_front();
  }
  sessions_.emplace(peer, session);
  session_order_.push_back(peer);
}

}  // namespace gnet::detail
