#include "plugins/update/signature_check.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>

namespace tether::plugins::update {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

Error bad_key(const std::filesystem::path& path, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, path.string() + ": " + what);
}

}  // namespace

void PublicKey::Free::operator()(void* key) const {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(key));
}

Result<PublicKey> PublicKey::load(const std::filesystem::path& path) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return bad_key(path, "cannot be read");
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    // The queue is per thread and the loop thread's TLS reads it: leave it empty.
    ERR_clear_error();
    return bad_key(path, "not a PEM public key");
  }
  std::shared_ptr<void> key(raw, Free{});
  if (EVP_PKEY_is_a(raw, "ED25519") == 1) return PublicKey(key, Kind::kEd25519, "Ed25519");
  if (EVP_PKEY_is_a(raw, "EC") == 1) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                       &length) != 1 ||
        std::string(group.data(), length) != "prime256v1") {
      return bad_key(path, "an EC key on a curve other than P-256");
    }
    return PublicKey(key, Kind::kEcdsa, "ECDSA P-256");
  }
  if (EVP_PKEY_is_a(raw, "RSA") == 1) {
    const int bits = EVP_PKEY_get_bits(raw);
    if (bits < 2048) return bad_key(path, "an RSA key shorter than 2048 bits");
    return PublicKey(key, Kind::kRsa, "RSA-" + std::to_string(bits));
  }
  return bad_key(path, "a key type other than Ed25519, ECDSA P-256 or RSA");
}

Status PublicKey::verify(const Sha256Digest& digest,
                         std::span<const std::uint8_t> signature) const {
  auto* key = static_cast<EVP_PKEY*>(key_.get());
  if (signature.empty()) return Error(ErrorCode::kInvalidArgument, "the signature is empty");
  int verdict = 0;
  if (kind_ == Kind::kEd25519) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1) {
      return Error("cannot set up Ed25519 verification");
    }
    verdict = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), digest.data(),
                               digest.size());
  } else {
    std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new(key, nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1) {
      return Error("cannot set up " + description_ + " verification");
    }
    verdict = EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(),
                              digest.size());
  }
  if (verdict != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kInvalidArgument,
                 "the signature does not verify with the " + description_ + " key");
  }
  return Status::Ok();
}

std::string to_hex(const Sha256Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (std::uint8_t b : digest) {
    out.push_back(kDigits[b >> 4U]);
    out.push_back(kDigits[b & 0xFU]);
  }
  return out;
}

}  // namespace tether::plugins::update
