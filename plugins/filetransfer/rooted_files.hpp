// The file system side of file transfer: every path a peer names is resolved for
// real (`..`, symlinks) and must land under filetransfer.root, and every open is
// done so that the name checked is the file used (O_NOFOLLOW on the last
// component, uploads created and renamed relative to an open directory).
//
// Everything here blocks (it touches the disk), so the plugin calls it from the
// loop's worker threads only. No state is shared between calls: a RootedFiles is a
// value that each worker call captures by copy.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "protocol/filetransfer.hpp"
#include "protocol/result.hpp"

namespace tether::plugins::filetransfer {

// An owned file descriptor; closes on destruction.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd();
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  OwnedFd& operator=(OwnedFd&& other) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A file opened for a download.
struct DownloadSource {
  OwnedFd fd;
  std::int64_t size = 0;
  std::string resolved;  // the real path, for the audit log
};

// An upload in progress: the temporary file next to the target, both named
// relative to the open target directory.
struct UploadTarget {
  OwnedFd directory;
  std::string name;       // the target's name in `directory`
  std::string temp_name;  // "<name>.<%08x counter><%02x try>", created O_EXCL
  OwnedFd file;           // the temporary file, write-only
  std::string resolved;   // the real target path, for the audit log
  bool replace = true;    // false: the final rename must not replace a file
  // Set once the temporary file is renamed or removed; makes discard idempotent
  // (an abort may race a commit on another worker).
  std::atomic<bool> settled{false};
};

class RootedFiles {
 public:
  // `root` must be an absolute path to an existing directory; it is resolved once.
  static Result<RootedFiles> open(const std::string& root);

  const std::string& root() const { return root_; }

  // stat() of an existing path under the root (following symlinks, as Mender does).
  // file_info's path is the path as asked.
  Result<protocol::filetransfer::FileInfo> stat(std::string_view path) const;

  // Opens a regular file under the root for reading; `max_size` 0 = no limit.
  Result<DownloadSource> open_for_download(std::string_view path, std::uint64_t max_size) const;

  // Resolves the upload's target, checks it (root, directory, irregular file,
  // overwrite, size) and creates its temporary file. `counter` makes the temporary
  // name unique within this daemon.
  Result<std::shared_ptr<UploadTarget>> prepare_upload(
      const protocol::filetransfer::UploadRequest& request, bool allow_overwrite,
      std::uint64_t max_size, std::uint32_t counter) const;

 private:
  explicit RootedFiles(std::string root) : root_(std::move(root)) {}
  // The real path of an existing `path`, refused when outside the root.
  Result<std::string> resolve_existing(std::string_view path, const std::string& action) const;
  bool under_root(const std::string& resolved) const;

  std::string root_;
};

// Reads up to `max` bytes at `offset` (fewer only at the end of the file).
Result<protocol::Bytes> read_at(int fd, std::int64_t offset, std::size_t max);
// Appends all of `data` to the upload's temporary file.
Status write_all(UploadTarget& target, std::span<const std::uint8_t> data);
// Sets mode (& 0777), owner and group, flushes, and renames the temporary file
// onto the target.
Status commit_upload(UploadTarget& target, std::uint32_t mode, std::uint32_t uid,
                     std::uint32_t gid);
// Removes the temporary file unless it was already committed or removed.
void discard_upload(UploadTarget& target);

}  // namespace tether::plugins::filetransfer
