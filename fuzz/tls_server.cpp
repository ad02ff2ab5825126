// Fuzz harness: a server-side TLS session (src/tls/) fed arbitrary bytes as ciphertext from a
// peer, as the connection feeds it: in pieces of fuzzer-chosen sizes, some of them kept across
// calls (a paused connection's keep_unread/keep). OpenSSL parses the records; what is ours is
// the BIO between them and the connection, the kept-ciphertext buffer and the error mapping.
// Nothing may crash or leak, a failure must name a tls_category() error, and once failed or
// closed the session must not start delivering plaintext. The corpus starts from real
// ClientHellos (openssl s_client, python ssl).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "gnet/tls.hpp"
#include "tests/net/tls_pki.hpp"
#include "tls/tls_context.hpp"
#include "tls/tls_session.hpp"

namespace {

using gnet::detail::TlsContexts;
using gnet::detail::TlsSession;

struct Server {
  gnet::test::TestPki pki;
  gnet::TlsOptions options;
  std::unique_ptr<TlsContexts> contexts;
  Server() {
    auto cert = pki.leaf("server", {"localhost"}, {"127.0.0.1"});
    options.certificate = {cert.chain_file, cert.key_file};
    options.alpn = {"h2", "http/1.1"};
    contexts = std::make_unique<TlsContexts>(options);
    if (!contexts->build_server()) std::abort();
  }
};

Server& server() {
  static Server s;  // one CA and certificate for the whole run
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Server& srv = server();
  auto made = TlsSession::create_server(*srv.contexts);
  if (!made) std::abort();
  std::unique_ptr<TlsSession> tls = std::move(made.value());
  std::size_t sent = 0;
  tls->set_sink([&](std::string_view ciphertext) { sent += ciphertext.size(); });

  // The first byte picks the piece size and how often a piece is kept rather than processed.
  if (size == 0) return 0;
  const std::size_t piece = 1 + (data[0] & 0x3f) * 37;
  const bool keep_some = (data[0] & 0x40) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  bool ended = false;
  char plain[16 * 1024];
  for (std::size_t n = 0; !rest.empty(); ++n) {
    std::string_view chunk = rest.substr(0, piece);
    rest.remove_prefix(chunk.size());
    if (keep_some && n % 3 == 1) {
      tls->keep(chunk);  // arrived while paused: processed with the next piece
      continue;
    }
    tls->set_input(chunk);
    for (;;) {
      TlsSession::Status st;
      if (!tls->handshake_done()) {
        st = tls->handshake();
        if (st == TlsSession::Status::ok) continue;
      } else {
        int got = 0;
        st = tls->read(plain, sizeof plain, got);
        if (st == TlsSession::Status::ok) {
          if (ended || got <= 0) std::abort();  // plaintext after the end, or an empty "ok"
          continue;
        }
      }
      if (st == TlsSession::Status::failed) {
        if (tls->error().category() != gnet::tls_category() || tls->detail().empty()) std::abort();
        return 0;  // the connection would close here
      }
      if (st == TlsSession::Status::closed) ended = true;
      break;  // want_input (or closed): wait for more
    }
    if (n % 2 == 0) tls->keep_unread();  // as a connection paused mid-way would
  }
  (void)sent;
  return 0;
}
