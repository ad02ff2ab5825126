// Test-only: a throwaway certificate authority made with OpenSSL's API in a temporary directory
// (no openssl binary, no clock tricks): a CA, leaves it signs (names, addresses, validity in
// days from now, so an expired one is one whose window closed yesterday), and self-signed ones.
#pragma once

#include <string>
#include <vector>

namespace gnet::test {

struct PemPair {
  std::string chain_file;  // the leaf's certificate (PEM)
  std::string key_file;    // its private key (PEM)
};

class TestPki {
 public:
  TestPki();   // makes the directory and the CA
  ~TestPki();  // removes the directory
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_; }
  // A leaf for these DNS names and IP addresses, valid from `from_days` to `to_days` (relative to
  // now), signed by this CA (or by itself).
  PemPair leaf(const std::string& file_stem, const std::vector<std::string>& dns, const std::vector<std::string>& ips,
               int from_days = -1, int to_days = 30, bool self_signed = false);

 private:
  std::string dir_, ca_file_, ca_key_file_;
  void* ca_key_ = nullptr;   // EVP_PKEY*
  void* ca_cert_ = nullptr;  // X509*
};

}  // namespace gnet::test
