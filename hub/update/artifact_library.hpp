// The folder of update artifacts the hub serves (`[update] artifact-dir`). A worker
// thread of its own lists the folder and computes each file's size and SHA-256
// (and, with `[update] signing-key`, its signature), so the loop never reads a file
// to hash it. Results are cached by (size, mtime, inode): a file is hashed again
// only when it changes. The loop reads the latest snapshot.
//
// Names are plain file names: 1-128 of [A-Za-z0-9._+-], not starting with a dot
// (so `cp big.deb .big.deb.part && mv .big.deb.part big.deb` publishes atomically;
// dot files are never listed or served). A path never comes from a peer.
//
// Signatures follow wire.md 5.3 as tetherd checks them (plugins/update/
// signature_check.hpp): over the 32-byte SHA-256 digest; Ed25519 signs the digest
// bytes as the message, ECDSA P-256 and RSA (PKCS#1 v1.5) sign it as a SHA-256 hash.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "plugins/update/signing_key.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::hub {

bool valid_artifact_name(std::string_view name);

// A private key that signs artifact digests (Ed25519, ECDSA P-256, RSA >= 2048).
class ArtifactSigner {
 public:
  // Reads a PEM private key; kInvalidArgument names the file and the problem.
  static Result<ArtifactSigner> load(const std::filesystem::path& path);
  // "Ed25519", "ECDSA P-256" or "RSA-2048".
  const std::string& description() const { return description_; }
  // The signature of a 32-byte SHA-256 digest (thread-safe: a fresh context each call).
  Result<protocol::Bytes> sign(const std::array<std::uint8_t, 32>& digest) const;

 private:
  using Kind = plugins::update::SigningKeyKind;
  ArtifactSigner(std::shared_ptr<void> key, Kind kind, std::string description)
      : key_(std::move(key)), kind_(kind), description_(std::move(description)) {}
  std::shared_ptr<void> key_;  // EVP_PKEY
  Kind kind_;
  std::string description_;
};

struct ArtifactInfo {
  std::string name;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  // Empty while the file is being hashed (or when hashing failed: see `error`).
  std::string sha256;
  protocol::Bytes signature;  // empty without a signing key
  std::string error;
  bool ready() const { return !sha256.empty(); }
};

class ArtifactLibrary {
 public:
  // At most this many artifacts are listed (the rest are ignored, with a log line).
  static constexpr std::size_t kMaxArtifacts = 1000;

  // Called on the worker thread after each scan (the caller posts to its loop).
  using Scanned = std::function<void()>;

  // `dir` must be a readable directory. `signer` may be null (artifacts unsigned).
  // Starts the worker, which lists and hashes the folder at once.
  static Result<std::unique_ptr<ArtifactLibrary>> open(const std::filesystem::path& dir,
                                                       std::optional<ArtifactSigner> signer,
                                                       Scanned scanned = {});
  ~ArtifactLibrary();
  ArtifactLibrary(const ArtifactLibrary&) = delete;
  ArtifactLibrary& operator=(const ArtifactLibrary&) = delete;

  // Any thread: ask the worker to look at the folder again (coalesced).
  void rescan();
  // Blocks until every rescan asked for so far is done (tests, and nothing on the loop).
  void wait_idle();

  std::vector<ArtifactInfo> list() const;
  std::optional<ArtifactInfo> find(std::string_view name) const;
  std::filesystem::path path_of(std::string_view name) const { return dir_ / std::string(name); }
  const std::filesystem::path& dir() const { return dir_; }
  // "" when unsigned, else the key's description.
  std::string signing() const { return signer_ ? signer_->description() : std::string(); }
  // Problems the worker met (unreadable file, too many files), for the log. Clears them.
  std::vector<std::string> take_problems();

 private:
  ArtifactLibrary(std::filesystem::path dir, std::optional<ArtifactSigner> signer, Scanned scanned);
  void work();
  void scan();
  ArtifactInfo hash(ArtifactInfo info) const;

  const std::filesystem::path dir_;
  const std::optional<ArtifactSigner> signer_;
  const Scanned scanned_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::map<std::string, ArtifactInfo, std::less<>> artifacts_;
  std::vector<std::string> problems_;
  std::uint64_t asked_ = 1;  // rescans asked for
  std::uint64_t done_ = 0;   // rescans finished
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace tether::hub
