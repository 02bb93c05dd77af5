#include "hub/update/artifact_library.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <set>

namespace tether::hub {

namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(void* key) const { EVP_PKEY_free(static_cast<EVP_PKEY*>(key)); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

Error bad_key(const std::filesystem::path& path, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument,
               "option 'update.signing-key': " + path.string() + ": " + what);
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '+';
}

}  // namespace

bool valid_artifact_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  for (char c : name) {
    if (!name_char(c)) return false;
  }
  return true;
}

// ------------------------------------------------------------------ signer

Result<ArtifactSigner> ArtifactSigner::load(const std::filesystem::path& path) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    return bad_key(path, "cannot be read");
  }
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  ERR_clear_error();
  if (raw == nullptr) return bad_key(path, "not an unencrypted PEM private key");
  std::shared_ptr<void> key(raw, PkeyFree{});
  auto type = plugins::update::signing_key_type(raw);
  if (!type.ok()) return bad_key(path, type.error().message());
  return ArtifactSigner(key, type.value().kind, std::move(type.value().description));
}

Result<protocol::Bytes> ArtifactSigner::sign(const std::array<std::uint8_t, 32>& digest) const {
  auto* key = static_cast<EVP_PKEY*>(key_.get());
  std::size_t length = 0;
  protocol::Bytes out;
  if (kind_ == Kind::kEd25519) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length, digest.data(), digest.size()) != 1) {
      ERR_clear_error();
      return Error("cannot sign with the Ed25519 key");
    }
    out.resize(length);
    if (EVP_DigestSign(ctx.get(), out.data(), &length, digest.data(), digest.size()) != 1) {
      ERR_clear_error();
      return Error("cannot sign with the Ed25519 key");
    }
  } else {
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new(key, nullptr));
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
        EVP_PKEY_sign(ctx.get(), nullptr, &length, digest.data(), digest.size()) != 1) {
      ERR_clear_error();
      return Error("cannot sign with the " + description_ + " key");
    }
    out.resize(length);
    if (EVP_PKEY_sign(ctx.get(), out.data(), &length, digest.data(), digest.size()) != 1) {
      ERR_clear_error();
      return Error("cannot sign with the " + description_ + " key");
    }
  }
  out.resize(length);
  return out;
}

// ------------------------------------------------------------------ library

ArtifactLibrary::ArtifactLibrary(std::filesystem::path dir, std::optional<ArtifactSigner> signer,
                                 Scanned scanned)
    : dir_(std::move(dir)), signer_(std::move(signer)), scanned_(std::move(scanned)) {}

Result<std::unique_ptr<ArtifactLibrary>> ArtifactLibrary::open(const std::filesystem::path& dir,
                                                               std::optional<ArtifactSigner> signer,
                                                               Scanned scanned) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Error(ErrorCode::kInvalidArgument,
                 "option 'update.artifact-dir': " + dir.string() + " is not a directory");
  }
  if (::access(dir.c_str(), R_OK | X_OK) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "option 'update.artifact-dir': " + dir.string() + " cannot be read");
  }
  std::unique_ptr<ArtifactLibrary> library(
      new ArtifactLibrary(dir, std::move(signer), std::move(scanned)));
  library->worker_ = std::thread([raw = library.get()] { raw->work(); });
  return library;
}

ArtifactLibrary::~ArtifactLibrary() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void ArtifactLibrary::rescan() {
  {
    std::lock_guard lock(mutex_);
    ++asked_;
  }
  wake_.notify_all();
}

void ArtifactLibrary::wait_idle() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = asked_;
  idle_.wait(lock, [&] { return done_ >= target || stop_; });
}

std::vector<ArtifactInfo> ArtifactLibrary::list() const {
  std::lock_guard lock(mutex_);
  std::vector<ArtifactInfo> out;
  out.reserve(artifacts_.size());
  for (const auto& [name, info] : artifacts_) out.push_back(info);
  return out;
}

std::optional<ArtifactInfo> ArtifactLibrary::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  const auto it = artifacts_.find(name);
  if (it == artifacts_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ArtifactLibrary::take_problems() {
  std::lock_guard lock(mutex_);
  return std::exchange(problems_, {});
}

void ArtifactLibrary::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || done_ < asked_; });
    if (stop_) break;
    const std::uint64_t target = asked_;
    lock.unlock();
    scan();
    if (scanned_) scanned_();
    lock.lock();
    done_ = target;
    idle_.notify_all();
  }
  idle_.notify_all();
}

// Lists the folder (stat only), drops what is gone, and hashes what is new or
// changed, publishing each result as soon as it is known.
void ArtifactLibrary::scan() {
  std::vector<ArtifactInfo> seen;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  if (ec) {
    std::lock_guard lock(mutex_);
    problems_.push_back("listing " + dir_.string() + ": " + ec.message());
    return;
  }
  bool too_many = false;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!valid_artifact_name(name)) continue;
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (seen.size() >= kMaxArtifacts) {
      too_many = true;
      break;
    }
    ArtifactInfo info;
    info.name = name;
    info.size = static_cast<std::uint64_t>(st.st_size);
    info.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    info.inode = static_cast<std::uint64_t>(st.st_ino);
    seen.push_back(std::move(info));
  }
  std::vector<ArtifactInfo> to_hash;
  {
    std::lock_guard lock(mutex_);
    if (too_many) {
      problems_.push_back(dir_.string() + " holds more than " + std::to_string(kMaxArtifacts) +
                          " artifacts; the rest are not served");
    }
    std::set<std::string, std::less<>> names;
    for (const auto& info : seen) {
      names.insert(info.name);
      auto known = artifacts_.find(info.name);
      const bool same = known != artifacts_.end() && known->second.size == info.size &&
                        known->second.mtime_ns == info.mtime_ns &&
                        known->second.inode == info.inode &&
                        (known->second.ready() || !known->second.error.empty());
      if (same) continue;
      artifacts_[info.name] = info;  // listed, not ready: being hashed
      to_hash.push_back(info);
    }
    for (auto a = artifacts_.begin(); a != artifacts_.end();) {
      a = names.count(a->first) != 0 ? std::next(a) : artifacts_.erase(a);
    }
  }
  for (auto& info : to_hash) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
    }
    ArtifactInfo hashed = hash(std::move(info));
    std::lock_guard lock(mutex_);
    if (!hashed.error.empty()) problems_.push_back(hashed.name + ": " + hashed.error);
    auto it2 = artifacts_.find(hashed.name);
    // Replaced or removed meanwhile: the next scan looks again.
    if (it2 != artifacts_.end() && it2->second.inode == hashed.inode &&
        it2->second.mtime_ns == hashed.mtime_ns && it2->second.size == hashed.size) {
      it2->second = std::move(hashed);
    }
  }
}

ArtifactInfo ArtifactLibrary::hash(ArtifactInfo info) const {
  const int fd = ::open(path_of(info.name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    info.error = std::string("cannot be read: ") + std::strerror(errno);
    return info;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    info.error = "cannot set up SHA-256";
    return info;
  }
  std::vector<unsigned char> buf(std::size_t{1} << 16);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      info.error = std::string("reading failed: ") + std::strerror(errno);
      return info;
    }
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
  }
  struct stat st {};
  const bool still_same = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) == total;
  ::close(fd);
  if (!still_same || total != info.size) {
    info.error = "changed while being hashed";
    return info;
  }
  std::array<std::uint8_t, 32> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &length);
  if (signer_) {
    auto signature = signer_->sign(digest);
    if (!signature.ok()) {
      info.error = signature.error().message();
      return info;
    }
    info.signature = std::move(*signature);
  }
  info.sha256 = plugins::update::to_hex(digest);
  return info;
}

}  // namespace tether::hub
