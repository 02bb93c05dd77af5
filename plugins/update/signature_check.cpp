#include "plugins/update/signature_check.hpp"

#include <openssl/bio.h>
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
  auto type = signing_key_type(raw);
  if (!type.ok()) return bad_key(path, type.error().message());
  return PublicKey(key, type.value().kind, std::move(type.value().description));
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

}  // namespace tether::plugins::update
