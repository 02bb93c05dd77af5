// Signing keys made at test time with the openssl command line, and signatures over
// a digest made the way docs/update.md tells a backend to make them.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "plugins/update/signature_check.hpp"

namespace tether::plugins::update::test {

inline bool shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::string data(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

struct KeyPair {
  std::filesystem::path private_key;
  std::filesystem::path public_key;
};

// `algorithm`: "ed25519", "p256", "p384" or "rsa".
inline KeyPair make_key(const std::filesystem::path& dir, const std::string& algorithm) {
  KeyPair pair{dir / (algorithm + ".key"), dir / (algorithm + ".pub")};
  std::string gen = "openssl genpkey -out '" + pair.private_key.string() + "' ";
  if (algorithm == "ed25519") gen += "-algorithm ed25519";
  if (algorithm == "p256") gen += "-algorithm EC -pkeyopt ec_paramgen_curve:P-256";
  if (algorithm == "p384") gen += "-algorithm EC -pkeyopt ec_paramgen_curve:P-384";
  if (algorithm == "rsa") gen += "-algorithm RSA -pkeyopt rsa_keygen_bits:2048";
  shell(gen);
  shell("openssl pkey -in '" + pair.private_key.string() + "' -pubout -out '" +
        pair.public_key.string() + "'");
  return pair;
}

// Signs the 32-byte digest of `data_file` (RSA/ECDSA: as the SHA-256 hash; Ed25519:
// the digest bytes as the message).
inline std::string sign_file(const KeyPair& key, const std::filesystem::path& data_file,
                             const std::string& algorithm) {
  const auto dir = data_file.parent_path();
  const auto digest = dir / "digest.bin";
  const auto signature = dir / "signature.bin";
  shell("openssl dgst -sha256 -binary -out '" + digest.string() + "' '" + data_file.string() + "'");
  if (algorithm == "ed25519") {
    shell("openssl pkeyutl -sign -rawin -inkey '" + key.private_key.string() + "' -in '" +
          digest.string() + "' -out '" + signature.string() + "'");
  } else {
    shell("openssl pkeyutl -sign -inkey '" + key.private_key.string() +
          "' -pkeyopt digest:sha256 -in '" + digest.string() + "' -out '" + signature.string() +
          "'");
  }
  return slurp(signature);
}

}  // namespace tether::plugins::update::test
