// Internal: one connection's TLS — an SSL object whose transport is the connection itself,
// through a BIO of our own (no socket, no memory BIO): OpenSSL reads ciphertext straight from
// the view the driver delivered (what it leaves unread is copied, only while the connection is
// paused), and every ciphertext byte it writes goes to the connection's ordinary send path
// (sent at once on epoll, queued for the turn's submission on io_uring). Nothing here blocks or
// touches a descriptor, and an idle session holds no buffer of ours.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "gnet/error.hpp"

namespace gnet::detail {

class TlsContexts;

class TlsSession {
 public:
  // Where ciphertext goes: the connection's send path (which queues what the kernel refuses).
  using Sink = std::function<void(std::string_view)>;
  enum class Status {
    ok,          // progress (handshake done, or plaintext delivered)
    want_input,  // needs more ciphertext from the peer
    closed,      // the peer sent close_notify
    failed,      // error() says why
  };

  // server: nothing to say yet. client: the name to send as SNI and verify (an IP literal is
  // verified as an address), and the host:port its sessions are cached under.
  static Result<std::unique_ptr<TlsSession>> create_server(TlsContexts& contexts);
  static Result<std::unique_ptr<TlsSession>> create_client(TlsContexts& contexts, const std::string& host,
                                                           const std::string& peer_key);
  // Before the first handshake step.
  void set_sink(Sink sink) { sink_ = std::move(sink); }
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext arrived (valid during the call that processes it; see keep_unread).
  void set_input(std::string_view ciphertext) noexcept { view_ = ciphertext; }
  // The caller is done for now with bytes still unread by OpenSSL (paused): copy them.
  void keep_unread();
  // Adds ciphertext straight to the kept bytes (it arrived while not reading).
  void keep(std::string_view ciphertext) { left_.append(ciphertext); }
  bool has_unread() const noexcept { return left_.size() > left_pos_ || !view_.empty(); }
  // After the peer's close_notify: whatever follows it means nothing (RFC 8446, 6.1).
  void drop_unread() noexcept;

  Status handshake();
  bool handshake_done() const noexcept { return done_; }
  // Decrypts into out (up to cap bytes); n > 0 with Status::ok.
  Status read(char* out, int cap, int& n);
  // Plaintext may still sit inside OpenSSL (a record decrypted but not all read).
  bool has_pending_plaintext() const noexcept { return SSL_pending(ssl_) > 0; }
  // Encrypts all of plain; the ciphertext goes to the sink.
  std::error_code write(std::string_view plain);
  // Sends close_notify (once).
  void close_notify();

  // After Status::failed: the condition (tls_category()) and OpenSSL's own words.
  std::error_code error() const noexcept { return error_; }
  const std::string& detail() const noexcept { return detail_; }

  std::string_view alpn() const noexcept;
  std::string_view server_name() const noexcept;
  const char* version() const noexcept { return SSL_get_version(ssl_); }
  bool resumed() const noexcept { return SSL_session_reused(ssl_) == 1; }

  // For TlsContexts' session callback.
  TlsContexts& contexts() noexcept { return contexts_; }
  const std::string& peer_key() const noexcept { return peer_key_; }

  // The BIO's side.
  int bio_read(char* out, int len) noexcept;
  void bio_write(std::string_view data) { sink_(data); }

 private:
  explicit TlsSession(TlsContexts& contexts) : contexts_(contexts) {}
  Result<void> init(SSL_CTX* ctx, bool server);
  Status fail(int ssl_result);

  TlsContexts& contexts_;
  Sink sink_;
  SSL* ssl_ = nullptr;
  bool done_ = false;
  bool notified_ = false;
  std::string_view view_;  // ciphertext being processed (the driver's buffer)
  std::string left_;       // ciphertext kept across calls (only while paused)
  std::size_t left_pos_ = 0;
  std::string peer_key_;
  std::error_code error_;
  std::string detail_;
};

}  // namespace gnet::detail
