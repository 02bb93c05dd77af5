// A small HTTPS file server for update tests (OpenSSL, one thread, one connection at
// a time): GET of a published path answers the bytes, honouring `Range: bytes=N-`
// with a 206. Faults on demand: cut the next response after N body bytes (the
// connection just closes, as a flaky link would), or answer the next requests with a
// status code. It records the Range start of every request, so a test can see that a
// download resumed instead of starting over.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/result.hpp"

namespace tether::test {

class ArtifactServer {
 public:
  // Listens on 127.0.0.1 (ephemeral port) with `cert`/`key` (PEM).
  static Result<std::unique_ptr<ArtifactServer>> start(const std::filesystem::path& cert,
                                                       const std::filesystem::path& key);
  ~ArtifactServer();
  ArtifactServer(const ArtifactServer&) = delete;
  ArtifactServer& operator=(const ArtifactServer&) = delete;

  // "https://localhost:PORT" + path.
  std::string url(const std::string& path) const;
  void publish(const std::string& path, std::string bytes);

  // The next response with a body stops after `bytes` body bytes and closes.
  void cut_next_after(std::uint64_t bytes);
  // The next `count` requests are answered with `status` and no body.
  void fail_next(int status, int count = 1);
  // Body bytes are written in chunks of `bytes` with `pause` between them, so a test
  // can act while a download is under way.
  void throttle(std::size_t bytes, std::chrono::milliseconds pause);

  // The Range start of every request so far (0 without a Range header).
  std::vector<std::uint64_t> range_starts() const;
  std::size_t requests() const;

  struct State;

 private:
  explicit ArtifactServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace tether::test
