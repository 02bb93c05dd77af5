#include "plugins/update/signing_key.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

namespace tether::plugins::update {

Result<SigningKeyType> signing_key_type(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") == 1)
    return SigningKeyType{SigningKeyKind::kEd25519, "Ed25519"};
  if (EVP_PKEY_is_a(key, "EC") == 1) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                       &length) != 1 ||
        std::string(group.data(), length) != "prime256v1") {
      ERR_clear_error();
      return Error(ErrorCode::kInvalidArgument, "an EC key on a curve other than P-256");
    }
    return SigningKeyType{SigningKeyKind::kEcdsa, "ECDSA P-256"};
  }
  if (EVP_PKEY_is_a(key, "RSA") == 1) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < 2048) return Error(ErrorCode::kInvalidArgument, "an RSA key shorter than 2048 bits");
    return SigningKeyType{SigningKeyKind::kRsa, "RSA-" + std::to_string(bits)};
  }
  return Error(ErrorCode::kInvalidArgument, "a key type other than Ed25519, ECDSA P-256 or RSA");
}

std::string to_hex(const Sha256Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (std::uint8_t b : digest) {
    out.push_back(kDigits[b >> 4U]);
    out.push_back(kDigits[b & 0xFU]);
  }
  return out;
}

}  // namespace tether::plugins::update
