// Fetching an update artifact with libcurl, on a worker thread (never on the loop).
//
// Why libcurl: it is the well-kept HTTP client on every Debian system, and it does
// exactly what a resumable download needs (Range requests, proxies from the
// environment or an option, certificate verification against a CA file) with the
// same OpenSSL the WebSocket uses.
//
// The contract (docs/update.md, "Download"):
//  - HTTPS only (also after redirects), the peer verified against `ca_file` or else
//    the system CAs, host name checked. There is no way to turn verification off.
//  - `proxy` when set, else libcurl's own reading of https_proxy/no_proxy.
//  - Free space on the file system of `path` is checked against what is still to come
//    before the first byte is fetched.
//  - The bytes go to `path`; a file already there is a previous attempt's prefix: it
//    is hashed again and the rest is asked for with a Range request. A server that
//    ignores the Range (200 instead of 206) restarts the file from zero.
//  - SHA-256 is computed while the bytes arrive; more bytes than `size` stop the
//    transfer at once.
//  - A transient failure (network, timeout, 5xx, a cut transfer) is retried after a
//    backoff that doubles from `first_backoff` to `max_backoff`, at most `attempts`
//    times in a row without progress; a 4xx is final.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>

#include "plugins/update/cancel_token.hpp"
#include "plugins/update/signature_check.hpp"
#include "protocol/result.hpp"

namespace tether::plugins::update {

struct DownloadRequest {
  std::string url;
  std::uint64_t size = 0;
  std::filesystem::path path;
  std::string ca_file;  // empty: the system CAs
  std::string proxy;    // empty: https_proxy from the environment
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  unsigned attempts = 8;
  // A transfer slower than 1 byte/s for this long is a failed attempt.
  std::chrono::seconds stall_timeout{60};
  std::chrono::seconds connect_timeout{30};
};

struct DownloadResult {
  std::uint64_t bytes = 0;
  Sha256Digest sha256{};
  unsigned attempts = 0;  // transfers started, for logs and tests
};

// Called on the worker thread with the bytes on disk so far (at most every 64 KiB).
using DownloadProgress = std::function<void(std::uint64_t bytes)>;

// Blocks until the artifact is complete, failed for good, or `cancel` fired (then
// kUnavailable "cancelled"). The file stays in place after a failure or a cancel, so
// that a later call resumes it; the caller removes it when it is no longer wanted.
// Not enough disk space is kIo and final.
Result<DownloadResult> download_artifact(const DownloadRequest& request, CancelToken& cancel,
                                         const DownloadProgress& progress);

// The size and SHA-256 of a whole file: verification after a restart, when the digest
// streamed during the download is gone. Blocking.
Result<std::pair<std::uint64_t, Sha256Digest>> hash_file(const std::filesystem::path& path);

}  // namespace tether::plugins::update
