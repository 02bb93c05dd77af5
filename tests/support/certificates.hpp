// Certificates made at test time with the openssl command line, so no key material
// is ever checked in and nothing expires in the repository.
#pragma once

#include <filesystem>

#include "protocol/result.hpp"

namespace tether::test {

struct CertificateSet {
  std::filesystem::path ca_cert;      // the CA the daemon should trust
  std::filesystem::path server_cert;  // signed by ca_cert, for localhost, 127.0.0.1 and ::1
  std::filesystem::path server_key;
  std::filesystem::path wrong_ca_cert;  // an unrelated CA: verification must fail with it
  std::filesystem::path client_cert;    // signed by ca_cert, for mutual TLS
  std::filesystem::path client_key;
  // Signed by ca_cert but for "other.example" only: a host name check must fail.
  std::filesystem::path other_host_cert;
  std::filesystem::path other_host_key;
};

class Certificates {
 public:
  // Creates every file of a CertificateSet in `dir` (EC P-256 keys, valid 2 days).
  static Result<CertificateSet> make(const std::filesystem::path& dir);
};

}  // namespace tether::test
