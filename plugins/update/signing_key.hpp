// The signature scheme both ends of a software update share (wire.md 5.3): the hub
// signs an artifact's SHA-256 digest with a private key (update.signing-key), the
// device checks it with the public half (update.public-key). Which keys qualify is
// decided here once, so that the hub never accepts a key the devices would refuse.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <string>

#include "protocol/result.hpp"

namespace tether::plugins::update {

using Sha256Digest = std::array<std::uint8_t, 32>;

enum class SigningKeyKind { kEd25519, kEcdsa, kRsa };

struct SigningKeyType {
  SigningKeyKind kind;
  std::string description;  // "Ed25519", "ECDSA P-256" or "RSA-3072"
};

// The kind of `key` (public or private): Ed25519, ECDSA on P-256, or RSA of at
// least 2048 bits. Anything else is kInvalidArgument with the reason in words ("an
// RSA key shorter than 2048 bits"), for the caller to put after the key's path.
// Leaves OpenSSL's per-thread error queue empty.
Result<SigningKeyType> signing_key_type(EVP_PKEY* key);

// Lower-case hex of a digest.
std::string to_hex(const Sha256Digest& digest);

}  // namespace tether::plugins::update
