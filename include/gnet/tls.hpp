// gnet/tls.hpp — TLS for tls:// listeners and tls:// dials (OpenSSL, TLS 1.2 and 1.3 only).
//
// The handler API does not change: on_open runs once the handshake is done, on_traffic sees
// plaintext, write() takes plaintext, close() sends close_notify after the queued output. The
// loop owns the socket: OpenSSL only ever sees memory (BIO pairs), so TLS runs on every I/O
// backend, and no OpenSSL call ever blocks or touches a descriptor.
//
//   gnet::Options o;
//   o.tls.certificate = {"server.crt", "server.key"};       // chain, key (PEM)
//   gnet::run(handler, "tls://0.0.0.0:8443", o);
//
//   gnet::Options c;                                         // a client verifies by default:
//   c.tls.ca_file = "ca.crt";                                // the CA, and the host name dialed
//   client.dial_sync("tls://localhost:8443", 5s);
//
// A handshake that fails never reaches on_open; on_close runs with an error of tls_category()
// that says why (TlsErrc), and the listener goes on serving. Memory: OpenSSL's record buffers
// are released whenever a connection is idle (SSL_MODE_RELEASE_BUFFERS); what an idle TLS
// connection still holds is OpenSSL's session state (docs/benchmarks.md measures it: about
// 15 KB, as nginx's). The inbound bound is the plaintext one (Options::max_inbound_buffered +
// read_buffer_cap), plus at most one read of ciphertext kept while paused and OpenSSL's one
// partial record (16 KiB + its overhead).
#pragma once

#include <chrono>
#include <string>
#include <system_error>
#include <vector>

namespace gnet {

// A certificate chain (leaf first) and its private key, as PEM files. Intermediates missing from
// the chain file are looked up once, at setup, in the trusted store (ca_file or the system's).
struct TlsCertificate {
  std::string chain_file;
  std::string key_file;
};

struct TlsOptions {
  // ---- server (tls:// listeners) ----
  // The certificate presented by default (required to listen on tls://).
  TlsCertificate certificate;
  // Per-name certificates chosen by the client's SNI: an exact name ("api.example.com") or a
  // wildcard ("*.example.com"); other names get `certificate`.
  struct NamedCertificate {
    std::string name;
    TlsCertificate certificate;
  };
  std::vector<NamedCertificate> sni_certificates;
  // Ask every client for a certificate and verify it against ca_file (mutual TLS).
  bool require_client_certificate = false;
  // Session tickets (stateless resumption; the keys rotate with the process).
  bool session_tickets = true;

  // ---- client (tls:// dials) ----
  // Verify the server's certificate chain and that it names the host (default on).
  bool verify_server = true;
  // The name sent as SNI and checked against the certificate; empty: the host of the dialed
  // address when it is a name (an IP literal is checked as an IP address, and no SNI is sent).
  std::string server_name;

  // ---- both ----
  // Trusted CAs (PEM file) for verifying the peer; empty: the system's default store.
  std::string ca_file;
  // ALPN protocols in preference order, e.g. {"h2", "http/1.1"}. A server picks the first of
  // its own list that the client offers and refuses a handshake that shares none; a client
  // offers the list. Conn::alpn() tells the result.
  std::vector<std::string> alpn;
  // TLS 1.3 only, or 1.2 and 1.3 (nothing older is ever spoken).
  bool tls13_only = false;
  // A handshake not finished by then closes the connection with TlsErrc::handshake_timeout.
  std::chrono::milliseconds handshake_timeout{10000};
};

// Why a TLS connection failed (the value of an error_code in tls_category()).
enum class TlsErrc {
  handshake_failed = 1,      // any other handshake failure (the message has OpenSSL's reason)
  handshake_timeout = 2,     // TlsOptions::handshake_timeout passed mid-handshake
  not_tls = 3,               // the peer spoke something else (e.g. plaintext HTTP on a TLS port)
  protocol_version = 4,      // no TLS version in common (the peer wants < 1.2, or 1.3 only)
  certificate_expired = 5,   // the peer's certificate (or one in its chain) has expired
  certificate_untrusted = 6, // the chain does not lead to a trusted CA (self-signed, unknown CA)
  hostname_mismatch = 7,     // the certificate does not name the host dialed (server_name)
  certificate_required = 8,  // the peer sent no certificate where one is required
  peer_alert = 9,            // the peer refused us with an alert (e.g. it did not trust our certificate)
  no_alpn_match = 10,        // ALPN lists share no protocol
  bad_record = 11,           // a corrupt or forged record after the handshake
};

const std::error_category& tls_category() noexcept;

inline std::error_code make_error_code(TlsErrc e) noexcept { return {static_cast<int>(e), tls_category()}; }

}  // namespace gnet

template <>
struct std::is_error_code_enum<gnet::TlsErrc> : std::true_type {};
