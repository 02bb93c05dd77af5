#include "tests/support/certificates.hpp"

#include <cstdlib>
#include <fstream>
#include <string>

namespace tether::test {
namespace {

Status run(const std::string& command) {
  const std::string quiet = command + " >/dev/null 2>&1";
  if (std::system(quiet.c_str()) != 0) return Error("command failed: " + command);
  return {};
}

std::string q(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

Status make_ca(const std::filesystem::path& cert, const std::filesystem::path& key,
               const std::string& name) {
  return run(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
      " -subj '/CN=" +
      name +
      "' -addext 'basicConstraints=critical,CA:TRUE'"
      " -addext 'keyUsage=critical,keyCertSign,cRLSign' -keyout " +
      q(key) + " -out " + q(cert));
}

Status make_leaf(const std::filesystem::path& dir, const std::string& stem, const std::string& cn,
                 const std::string& extensions, const std::filesystem::path& ca_cert,
                 const std::filesystem::path& ca_key) {
  const auto key = dir / (stem + ".key");
  const auto csr = dir / (stem + ".csr");
  const auto cert = dir / (stem + ".crt");
  const auto ext = dir / (stem + ".ext");
  std::ofstream(ext) << extensions << "\n";
  if (auto s = run(
          "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=" + cn +
          "' -keyout " + q(key) + " -out " + q(csr));
      !s)
    return s;
  return run("openssl x509 -req -days 2 -in " + q(csr) + " -CA " + q(ca_cert) + " -CAkey " +
             q(ca_key) + " -CAcreateserial -extfile " + q(ext) + " -out " + q(cert));
}

}  // namespace

Result<CertificateSet> Certificates::make(const std::filesystem::path& dir) {
  CertificateSet set;
  set.ca_cert = dir / "ca.crt";
  const auto ca_key = dir / "ca.key";
  set.wrong_ca_cert = dir / "wrong-ca.crt";
  set.server_cert = dir / "server.crt";
  set.server_key = dir / "server.key";
  set.client_cert = dir / "client.crt";
  set.client_key = dir / "client.key";
  set.other_host_cert = dir / "other-host.crt";
  set.other_host_key = dir / "other-host.key";

  if (auto s = make_ca(set.ca_cert, ca_key, "tether test CA"); !s) return s.error();
  if (auto s = make_ca(set.wrong_ca_cert, dir / "wrong-ca.key", "tether wrong CA"); !s)
    return s.error();
  if (auto s = make_leaf(dir, "server", "localhost",
                         "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                         "extendedKeyUsage=serverAuth",
                         set.ca_cert, ca_key);
      !s)
    return s.error();
  if (auto s = make_leaf(dir, "client", "tether-test-device", "extendedKeyUsage=clientAuth",
                         set.ca_cert, ca_key);
      !s)
    return s.error();
  if (auto s = make_leaf(dir, "other-host", "other.example",
                         "subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth",
                         set.ca_cert, ca_key);
      !s)
    return s.error();
  return set;
}

}  // namespace tether::test
