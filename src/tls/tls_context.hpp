// Internal: the OpenSSL contexts an engine's TLS connections are made from, built once from
// Options::tls and shared by every loop (SSL_new from a shared SSL_CTX is thread-safe).
//   - server: the default certificate's context, one more per SNI name (the servername callback
//     switches a handshake over to it), ALPN selection, tickets, optional client verification;
//   - client: built on the first tls:// dial; verification on by default, ALPN offered, and a
//     small cache of sessions per host:port for resumption.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gnet/error.hpp"
#include "gnet/tls.hpp"

namespace gnet::detail {

class TlsContexts {
 public:
  explicit TlsContexts(const TlsOptions& options) : options_(options) {}
  ~TlsContexts();
  TlsContexts(const TlsContexts&) = delete;
  TlsContexts& operator=(const TlsContexts&) = delete;

  // Setup thread, before the loops run (a tls:// listener needs it): loads the certificates.
  Result<void> build_server();
  SSL_CTX* server() const noexcept { return server_; }
  // Any thread: the client context, built on first use. Fails when ca_file cannot be loaded.
  Result<SSL_CTX*> client();

  // Client session cache, any thread: the last session a server gave for this host:port.
  SSL_SESSION* take_session(const std::string& peer);  // a reference the caller owns, or nullptr
  void keep_session(const std::string& peer, SSL_SESSION* session);  // takes a reference

  const TlsOptions& options() const noexcept { return options_; }

 private:
  Result<SSL_CTX*> make_server_ctx(const TlsCertificate& cert);
  static int on_servername(SSL* ssl, int* alert, void* arg);
  static int on_alpn_select(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                            unsigned inlen, void* arg);
  static int on_new_session(SSL* ssl, SSL_SESSION* session);
  SSL_CTX* match_name(const std::string& name) const;

  const TlsOptions& options_;
  std::vector<unsigned char> alpn_wire_;  // the ALPN list in wire format (length-prefixed)
  SSL_CTX* server_ = nullptr;
  std::vector<std::pair<std::string, SSL_CTX*>> named_;  // SNI name (lower case) -> its context

  std::mutex client_mu_;
  SSL_CTX* client_ = nullptr;
  // host:port -> session, bounded: the oldest goes when full.
  static constexpr std::size_t kSessionCacheSize = 256;
  std::unordered_map<std::string, SSL_SESSION*> sessions_;
  std::list<std::string> session_order_;
};

// The OpenSSL error queue as one line ("error:0A00010B:SSL routines::wrong version number"),
// emptied. "unknown" when it holds nothing.
std::string take_openssl_errors();

}  // namespace gnet::detail
