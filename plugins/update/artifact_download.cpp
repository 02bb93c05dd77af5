#include "plugins/update/artifact_download.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

namespace tether::plugins::update {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct CurlFree {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text(int err) {
  return std::strerror(err);  // NOLINT(concurrency-mt-unsafe): messages are not cached
}

// One transfer's sink: appends to the file and feeds the hash.
struct Sink {
  int fd = -1;
  EVP_MD_CTX* hash = nullptr;
  CURL* curl = nullptr;
  std::uint64_t bytes = 0;  // on disk, hashed
  std::uint64_t limit = 0;  // the offer's size
  std::uint64_t resumed_from = 0;
  bool checked_response = false;
  bool too_big = false;
  int write_errno = 0;
  const DownloadProgress* progress = nullptr;
  std::uint64_t last_progress = 0;
  CancelToken* cancel = nullptr;
};

bool reset_hash(EVP_MD_CTX* hash) {
  return EVP_DigestInit_ex(hash, EVP_sha256(), nullptr) == 1;
}

std::size_t write_body(char* data, std::size_t one, std::size_t count, void* user) {
  auto& sink = *static_cast<Sink*>(user);
  const std::size_t length = one * count;
  if (!sink.checked_response) {
    sink.checked_response = true;
    long code = 0;
    curl_easy_getinfo(sink.curl, CURLINFO_RESPONSE_CODE, &code);
    if (sink.resumed_from > 0 && code == 200) {
      // The server ignored our Range: the body is the whole artifact again.
      if (::ftruncate(sink.fd, 0) != 0 || ::lseek(sink.fd, 0, SEEK_SET) != 0 ||
          !reset_hash(sink.hash)) {
        sink.write_errno = errno;
        return 0;
      }
      sink.bytes = 0;
    }
  }
  if (sink.bytes + length > sink.limit) {
    sink.too_big = true;
    return 0;
  }
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = ::write(sink.fd, data + done, length - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      sink.write_errno = errno;
      return 0;
    }
    done += static_cast<std::size_t>(n);
  }
  EVP_DigestUpdate(sink.hash, data, length);
  sink.bytes += length;
  if (*sink.progress && sink.bytes - sink.last_progress >= 65536) {
    sink.last_progress = sink.bytes;
    (*sink.progress)(sink.bytes);
  }
  return length;
}

int on_transfer_info(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Sink*>(user)->cancel->cancelled() ? 1 : 0;
}

// Hashes the first `bytes` of the file (a previous attempt's prefix).
Status hash_prefix(int fd, std::uint64_t bytes, EVP_MD_CTX* hash) {
  std::array<char, 65536> buffer{};
  std::uint64_t left = bytes;
  if (::lseek(fd, 0, SEEK_SET) != 0) return Error(ErrorCode::kIo, "seek: " + errno_text(errno));
  while (left > 0) {
    const ssize_t n = ::read(fd, buffer.data(), std::min<std::uint64_t>(left, buffer.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error(ErrorCode::kIo, "reading the partial artifact back failed");
    EVP_DigestUpdate(hash, buffer.data(), static_cast<std::size_t>(n));
    left -= static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

Status check_free_space(const std::filesystem::path& path, std::uint64_t needed) {
  struct statvfs fs {};
  if (::statvfs(path.parent_path().c_str(), &fs) != 0) {
    return Error(ErrorCode::kIo,
                 "statvfs " + path.parent_path().string() + ": " + errno_text(errno));
  }
  const std::uint64_t available = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (available < needed) {
    return Error(ErrorCode::kIo, "not enough disk space in " + path.parent_path().string() + ": " +
                                     std::to_string(needed) + " bytes needed, " +
                                     std::to_string(available) + " available");
  }
  return Status::Ok();
}

enum class Attempt { kDone, kRetry, kFinal };

}  // namespace

Result<DownloadResult> download_artifact(const DownloadRequest& request, CancelToken& cancel,
                                         const DownloadProgress& progress) {
  // Once per process, before the first transfer (a function-local static is
  // initialised once even when two threads get here together).
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == 0;
  if (!curl_ready) return Error("curl_global_init failed");
  Fd file(::open(request.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (file.get() < 0) {
    return Error(ErrorCode::kIo, "open " + request.path.string() + ": " + errno_text(errno));
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> hash(EVP_MD_CTX_new());
  if (!hash || !reset_hash(hash.get())) return Error("cannot set up SHA-256");

  std::uint64_t on_disk =
      static_cast<std::uint64_t>(std::max<off_t>(::lseek(file.get(), 0, SEEK_END), 0));
  if (on_disk > request.size) {
    if (::ftruncate(file.get(), 0) != 0)
      return Error(ErrorCode::kIo, "truncate: " + errno_text(errno));
    on_disk = 0;
  }
  if (Status s = hash_prefix(file.get(), on_disk, hash.get()); !s) return s.error();
  if (Status s = check_free_space(request.path, request.size - on_disk); !s) return s.error();

  DownloadResult result;
  result.bytes = on_disk;
  unsigned failures_in_a_row = 0;
  std::chrono::milliseconds backoff = request.first_backoff;
  std::string last_error;
  while (result.bytes < request.size) {
    if (cancel.cancelled()) return Error(ErrorCode::kUnavailable, "cancelled");
    std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
    if (!curl) return Error("curl_easy_init failed");
    if (::lseek(file.get(), static_cast<off_t>(result.bytes), SEEK_SET) < 0) {
      return Error(ErrorCode::kIo, "seek: " + errno_text(errno));
    }
    Sink sink;
    sink.fd = file.get();
    sink.hash = hash.get();
    sink.curl = curl.get();
    sink.bytes = result.bytes;
    sink.limit = request.size;
    sink.resumed_from = result.bytes;
    sink.progress = &progress;
    sink.last_progress = result.bytes;
    sink.cancel = &cancel;
    std::array<char, CURL_ERROR_SIZE> error_text{};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (!request.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_file.c_str());
    if (!request.proxy.empty()) curl_easy_setopt(c, CURLOPT_PROXY, request.proxy.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(request.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.stall_timeout.count()));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text.data());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_transfer_info);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &sink);
    if (result.bytes > 0) {
      curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(result.bytes));
    }
    ++result.attempts;
    const CURLcode code = curl_easy_perform(c);
    const bool progressed = sink.bytes > result.bytes || (sink.resumed_from > 0 && sink.bytes == 0);
    result.bytes = sink.bytes;
    if (progress) progress(result.bytes);

    Attempt verdict = Attempt::kRetry;
    if (code == CURLE_OK) {
      verdict = Attempt::kDone;
    } else if (code == CURLE_ABORTED_BY_CALLBACK) {
      return Error(ErrorCode::kUnavailable, "cancelled");
    } else if (sink.too_big) {
      return Error(ErrorCode::kInvalidArgument,
                   "size mismatch: the server sent more than the offered " +
                       std::to_string(request.size) + " bytes");
    } else if (sink.write_errno != 0) {
      // A full disk does not get better by fetching again.
      return Error(ErrorCode::kIo,
                   "writing " + request.path.string() + ": " + errno_text(sink.write_errno));
    } else if (code == CURLE_HTTP_RETURNED_ERROR) {
      long status = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      last_error = "HTTP " + std::to_string(status);
      verdict = status >= 500 ? Attempt::kRetry : Attempt::kFinal;
    } else if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
               code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT) {
      verdict = Attempt::kFinal;
    }
    if (verdict == Attempt::kDone) break;
    if (code != CURLE_HTTP_RETURNED_ERROR) {
      last_error = error_text[0] != '\0' ? error_text.data() : curl_easy_strerror(code);
    }
    if (verdict == Attempt::kFinal) {
      return Error(ErrorCode::kUnavailable, "download failed: " + last_error);
    }
    if (progressed) {
      failures_in_a_row = 0;
      backoff = request.first_backoff;
    }
    if (++failures_in_a_row >= request.attempts) {
      return Error(ErrorCode::kUnavailable, "download failed " + std::to_string(failures_in_a_row) +
                                                " times in a row, last: " + last_error);
    }
    if (cancel.wait_for(backoff)) return Error(ErrorCode::kUnavailable, "cancelled");
    backoff = std::min(backoff * 2, request.max_backoff);
  }
  if (::fsync(file.get()) != 0) return Error(ErrorCode::kIo, "fsync: " + errno_text(errno));
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(hash.get(), result.sha256.data(), &length) != 1 || length != 32) {
    return Error("cannot finish SHA-256");
  }
  return result;
}

// Hashes a whole file (verification after a restart, when no streamed digest exists).
Result<std::pair<std::uint64_t, Sha256Digest>> hash_file(const std::filesystem::path& path) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0)
    return Error(ErrorCode::kIo, "open " + path.string() + ": " + errno_text(errno));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> hash(EVP_MD_CTX_new());
  if (!hash || !reset_hash(hash.get())) return Error("cannot set up SHA-256");
  const off_t size = ::lseek(file.get(), 0, SEEK_END);
  if (size < 0) return Error(ErrorCode::kIo, "seek: " + errno_text(errno));
  if (Status s = hash_prefix(file.get(), static_cast<std::uint64_t>(size), hash.get()); !s)
    return s.error();
  Sha256Digest digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(hash.get(), digest.data(), &length) != 1)
    return Error("cannot finish SHA-256");
  return std::pair{static_cast<std::uint64_t>(size), digest};
}

}  // namespace tether::plugins::update
