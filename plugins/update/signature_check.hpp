// The artifact's signature check (wire.md 5.3): `signature` is made over the 32-byte
// SHA-256 digest of the artifact by the private half of update.public-key. With
// OpenSSL's EVP API:
//  - Ed25519: the 32 digest bytes are the signed message (PureEdDSA over the digest);
//  - ECDSA P-256 and RSA (PKCS#1 v1.5): the digest is the SHA-256 hash that was signed,
//    i.e. what `openssl dgst -sha256 -sign KEY ARTIFACT` produces.
// docs/update.md shows how to sign with each.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "plugins/update/signing_key.hpp"
#include "protocol/result.hpp"

namespace tether::plugins::update {

class PublicKey {
 public:
  // Reads a PEM public key ("BEGIN PUBLIC KEY") from `path`. Fails (kInvalidArgument)
  // for a missing or unreadable file, anything that is not a public key, and key types
  // other than Ed25519, ECDSA P-256 and RSA (of at least 2048 bits).
  static Result<PublicKey> load(const std::filesystem::path& path);

  // "Ed25519", "ECDSA P-256" or "RSA-3072".
  const std::string& description() const { return description_; }

  // Ok when `signature` is a valid signature of `digest` by this key.
  Status verify(const Sha256Digest& digest, std::span<const std::uint8_t> signature) const;

 private:
  struct Free {
    void operator()(void* key) const;
  };
  using Kind = SigningKeyKind;
  PublicKey(std::shared_ptr<void> key, Kind kind, std::string description)
      : key_(std::move(key)), kind_(kind), description_(std::move(description)) {}

  std::shared_ptr<void> key_;  // EVP_PKEY, shared: verification does not modify it
  Kind kind_;
  std::string description_;
};

}  // namespace tether::plugins::update
