#include "tls_pki.hpp"  // (beside this file: also built into the TLS fuzz harness)

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace gnet::test {
namespace {

EVP_PKEY* new_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) throw std::runtime_error("EVP_EC_gen");
  return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) throw std::runtime_error("X509V3_EXT_conf_nid " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, int from_days, int to_days,
                bool ca) {
  static long serial = 1;
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++ + static_cast<long>(::getpid()) * 1000);
  X509_gmtime_adj(X509_getm_notBefore(cert), static_cast<long>(from_days) * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(to_days) * 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer != nullptr ? issuer : cert;
  add_ext(cert, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert, signer, NID_subject_key_identifier, "hash");
  if (!X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256())) throw std::runtime_error("X509_sign");
  return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("open " + path);
  if (cert != nullptr) PEM_write_X509(f, cert);
  if (key != nullptr) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace

TestPki::TestPki() {
  char tmpl[] = "/tmp/gnet-pki-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
  dir_ = tmpl;
  EVP_PKEY* key = new_key();
  X509* cert = make_cert(key, "gnet test CA", nullptr, nullptr, -1, 30, true);
  ca_file_ = dir_ + "/ca.crt";
  ca_key_file_ = dir_ + "/ca.key";
  write_pem(ca_file_, cert, nullptr);
  write_pem(ca_key_file_, nullptr, key);
  ca_key_ = key;
  ca_cert_ = cert;
}

TestPki::~TestPki() {
  X509_free(static_cast<X509*>(ca_cert_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(ca_key_));
  std::system(("rm -rf '" + dir_ + "'").c_str());
}

PemPair TestPki::leaf(const std::string& stem, const std::vector<std::string>& dns, const std::vector<std::string>& ips,
                      int from_days, int to_days, bool self_signed) {
  EVP_PKEY* key = new_key();
  std::string cn = dns.empty() ? (ips.empty() ? stem : ips.front()) : dns.front();
  auto* ca = static_cast<X509*>(ca_cert_);
  auto* ca_key = static_cast<EVP_PKEY*>(ca_key_);
  std::string san;  // subjectAltName: what a client checks the name against
  for (const auto& d : dns) {
    if (!san.empty()) san += ',';
    san += "DNS:";
    san += d;
  }
  for (const auto& i : ips) {
    if (!san.empty()) san += ',';
    san += "IP:";
    san += i;
  }
  X509* cert = make_cert(key, cn, self_signed ? nullptr : ca, self_signed ? nullptr : ca_key, from_days, to_days, false);
  if (!san.empty()) {
    add_ext(cert, self_signed ? cert : ca, NID_subject_alt_name, san);
    X509_sign(cert, self_signed ? key : ca_key, EVP_sha256());  // again, with the names in
  }
  PemPair out{dir_ + "/" + stem + ".crt", dir_ + "/" + stem + ".key"};
  write_pem(out.chain_file, cert, nullptr);
  write_pem(out.key_file, nullptr, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace gnet::test
