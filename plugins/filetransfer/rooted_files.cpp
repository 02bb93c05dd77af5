#include "plugins/filetransfer/rooted_files.hpp"

#include <fcntl.h>
#include <stdio.h>  // NOLINT(modernize-deprecated-headers): renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace tether::plugins::filetransfer {
namespace {

namespace ft = protocol::filetransfer;

std::string errno_text(int error) {
  return std::strerror(error);  // NOLINT(concurrency-mt-unsafe): glibc's is thread-safe
}

Error io_error(int error, const std::string& what) {
  const ErrorCode code = error == ENOENT   ? ErrorCode::kNotFound
                         : error == EACCES ? ErrorCode::kAccessDenied
                         : error == EPERM  ? ErrorCode::kAccessDenied
                                           : ErrorCode::kIo;
  return Error(code, what + ": " + errno_text(error));
}

// realpath(3) as a Result; ENOENT when any component is missing.
Result<std::string> real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  if (!resolved) return io_error(errno, "'" + path + "'");
  return std::string(resolved.get());
}

// "a/b/c" -> ("a/b", "c"); "/c" -> ("/", "c").
std::pair<std::string, std::string> split_parent(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? std::string("/") : path.substr(0, slash), path.substr(slash + 1)};
}

Status check_absolute(std::string_view path) {
  if (path.empty())
    return Error(ErrorCode::kInvalidArgument, "invalid request parameters: path: cannot be blank");
  if (path.front() != '/')
    return Error(ErrorCode::kInvalidArgument, "invalid request parameters: path: must be absolute");
  if (path.find('\0') != std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument,
                 "invalid request parameters: path: must not contain NUL");
  return {};
}

}  // namespace

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) ::close(fd_);
}

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Result<RootedFiles> RootedFiles::open(const std::string& root) {
  auto resolved = real_path(root);
  if (!resolved) return resolved.error().wrap("filetransfer.root");
  struct stat st {};
  if (::stat(resolved->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Error(ErrorCode::kInvalidArgument, "filetransfer.root: not a directory: " + root);
  return RootedFiles(*resolved);
}

bool RootedFiles::under_root(const std::string& resolved) const {
  if (root_ == "/") return true;
  return resolved == root_ ||
         (resolved.size() > root_.size() && resolved.compare(0, root_.size(), root_) == 0 &&
          resolved[root_.size()] == '/');
}

Result<std::string> RootedFiles::resolve_existing(std::string_view path,
                                                  const std::string& action) const {
  if (Status ok = check_absolute(path); !ok) return ok.error();
  const std::string asked(path);
  auto resolved = real_path(asked);
  if (!resolved) return resolved.error().wrap(action);
  if (!under_root(*resolved))
    return Error(ErrorCode::kAccessDenied,
                 "access denied: '" + asked + "' is outside filetransfer.root");
  return resolved;
}

Result<ft::FileInfo> RootedFiles::stat(std::string_view path) const {
  auto resolved =
      resolve_existing(path, "failed to get file info from path '" + std::string(path) + "'");
  if (!resolved) return resolved.error();
  struct stat st {};
  if (::stat(resolved->c_str(), &st) != 0)
    return io_error(errno, "failed to get file info from path '" + std::string(path) + "'");
  ft::FileInfo info;
  info.path = std::string(path);
  info.size = st.st_size;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.mode = ft::go_file_mode(st.st_mode);
  info.modtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                    static_cast<std::int64_t>(st.st_mtim.tv_nsec);
  return info;
}

Result<DownloadSource> RootedFiles::open_for_download(std::string_view path,
                                                      std::uint64_t max_size) const {
  auto resolved = resolve_existing(path, "failed to open file for reading");
  if (!resolved) return resolved.error();
  // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: the name
  // checked above is the file opened, not a symlink swapped in since.
  OwnedFd fd(::open(resolved->c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return io_error(errno, "failed to open file for reading");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(errno, "failed to open file for reading");
  if (!S_ISREG(st.st_mode))
    return Error(ErrorCode::kAccessDenied,
                 "access denied: '" + std::string(path) + "' is not a regular file");
  if (max_size > 0 && static_cast<std::uint64_t>(st.st_size) > max_size)
    return Error(ErrorCode::kAccessDenied,
                 "access denied: file size " + std::to_string(st.st_size) +
                     " exceeds filetransfer.max-file-size (" + std::to_string(max_size) + ")");
  DownloadSource source;
  source.fd = std::move(fd);
  source.size = st.st_size;
  source.resolved = *resolved;
  return source;
}

Result<std::shared_ptr<UploadTarget>> RootedFiles::prepare_upload(const ft::UploadRequest& request,
                                                                  bool allow_overwrite,
                                                                  std::uint64_t max_size,
                                                                  std::uint32_t counter) const {
  if (Status ok = check_absolute(request.path); !ok) return ok.error();
  if (request.size && *request.size < 0)
    return Error(ErrorCode::kInvalidArgument, "invalid request parameters: size: negative");
  if (max_size > 0 && request.size && static_cast<std::uint64_t>(*request.size) > max_size)
    return Error(ErrorCode::kAccessDenied,
                 "access denied: file size " + std::to_string(*request.size) +
                     " exceeds filetransfer.max-file-size (" + std::to_string(max_size) + ")");
  std::string path = request.path;
  // A directory as target takes the source's name inside it, as Mender does.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    const std::string source = request.src_path.value_or("");
    const std::string base = split_parent(source).second;
    if (base.empty() || base == "." || base == "..")
      return Error(ErrorCode::kInvalidArgument,
                   "conflicting file path: cannot overwrite directory");
    path += (path.back() == '/' ? "" : "/") + base;
  }
  auto [parent, name] = split_parent(path);
  if (name.empty() || name == "." || name == "..")
    return Error(ErrorCode::kInvalidArgument, "invalid request parameters: path: must name a file");
  auto parent_real = real_path(parent);
  if (!parent_real) return parent_real.error().wrap("failed to create target file");
  if (!under_root(*parent_real))
    return Error(ErrorCode::kAccessDenied,
                 "access denied: '" + request.path + "' is outside filetransfer.root");

  auto target = std::make_shared<UploadTarget>();
  target->directory =
      OwnedFd(::open(parent_real->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!target->directory.valid()) return io_error(errno, "failed to create target file");
  // An existing symlink as the target: it may point anywhere, so follow it once,
  // and what it names must be under the root too.
  if (::fstatat(target->directory.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(st.st_mode)) {
    auto followed = real_path(*parent_real + "/" + name);
    if (!followed)
      return Error(ErrorCode::kInvalidArgument,
                   "conflicting file path: cannot overwrite irregular file");
    if (!under_root(*followed))
      return Error(ErrorCode::kAccessDenied,
                   "access denied: '" + request.path + "' is outside filetransfer.root");
    auto [real_parent, real_name] = split_parent(*followed);
    parent_real = real_parent;
    name = real_name;
    target->directory =
        OwnedFd(::open(real_parent.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!target->directory.valid()) return io_error(errno, "failed to create target file");
  }
  if (::fstatat(target->directory.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode))
      return Error(ErrorCode::kInvalidArgument,
                   "conflicting file path: cannot overwrite directory");
    if (!S_ISREG(st.st_mode))
      return Error(ErrorCode::kInvalidArgument,
                   "conflicting file path: cannot overwrite irregular file");
    if (!allow_overwrite)
      return Error(ErrorCode::kAccessDenied,
                   "access denied: file exists and filetransfer.allow-overwrite is false");
  } else if (errno != ENOENT) {
    return io_error(errno, "error checking file location");
  }
  target->name = name;
  target->replace = allow_overwrite;
  target->resolved = (*parent_real == "/" ? "" : *parent_real) + "/" + name;
  for (unsigned attempt = 0; attempt < 100; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, ".%08x%02x", counter, attempt);
    std::string temp = name + suffix;
    const int fd = ::openat(target->directory.get(), temp.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0200);
    if (fd >= 0) {
      target->file = OwnedFd(fd);
      target->temp_name = std::move(temp);
      return target;
    }
    if (errno != EEXIST) return io_error(errno, "failed to create target file");
  }
  return Error(ErrorCode::kIo, "failed to create target file: no free temporary name");
}

Result<protocol::Bytes> read_at(int fd, std::int64_t offset, std::size_t max) {
  protocol::Bytes out(max);
  std::size_t got = 0;
  while (got < max) {
    const ssize_t n = ::pread(fd, out.data() + got, max - got, offset + static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(errno, "failed to read file");
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

Status write_all(UploadTarget& target, std::span<const std::uint8_t> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(target.file.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(errno, "failed to write file chunk");
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Status commit_upload(UploadTarget& target, std::uint32_t mode, std::uint32_t uid,
                     std::uint32_t gid) {
  const int fd = target.file.get();
  if (::fchmod(fd, mode & protocol::filetransfer::mode::kPerm) != 0)
    return io_error(errno, "failed to set file permissions");
  if (::fchown(fd, uid, gid) != 0) return io_error(errno, "failed to set file owner");
  // chown may clear setuid/setgid bits; the mode the peer asked for is the rule.
  if (::fchmod(fd, mode & protocol::filetransfer::mode::kPerm) != 0)
    return io_error(errno, "failed to set file permissions");
  if (::fsync(fd) != 0) return io_error(errno, "failed to flush file");
  if (target.settled.exchange(true)) return Error(ErrorCode::kIo, "upload was aborted");
  const int dir = target.directory.get();
  const int rc =
      target.replace
          ? ::renameat(dir, target.temp_name.c_str(), dir, target.name.c_str())
          : ::renameat2(dir, target.temp_name.c_str(), dir, target.name.c_str(), RENAME_NOREPLACE);
  if (rc != 0) {
    const int error = errno;
    ::unlinkat(dir, target.temp_name.c_str(), 0);
    if (error == EEXIST)
      return Error(ErrorCode::kAccessDenied,
                   "access denied: file exists and filetransfer.allow-overwrite is false");
    return io_error(error, "failed to commit uploaded file");
  }
  return {};
}

void discard_upload(UploadTarget& target) {
  if (target.settled.exchange(true)) return;
  if (target.directory.valid() && !target.temp_name.empty())
    ::unlinkat(target.directory.get(), target.temp_name.c_str(), 0);
}

}  // namespace tether::plugins::filetransfer
