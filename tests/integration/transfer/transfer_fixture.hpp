// tetherd with file transfer, port forward and the Mender client enabled, and the
// test server playing the peer: Mender's deviceconnect for files (its window and
// ack rules), mender-cli for port forward.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "protocol/filetransfer.hpp"
#include "protocol/message.hpp"
#include "tests/integration/daemon/daemon_fixture.hpp"

namespace tether::test {

class TransferTest : public DaemonTest {
 protected:
  void SetUp() override;

  // Starts tetherd with the three plugins on (root = root_) plus `extra`.
  void start(const std::vector<std::string>& extra = {});

  // The next message of `proto` on `sid` (others are skipped), or nullopt.
  std::optional<protocol::ProtoMsg> next(std::uint16_t proto, const std::string& sid,
                                         std::chrono::milliseconds timeout = 5s);
  // Control open on `sid`; returns the accept (or error) reply.
  std::optional<protocol::ProtoMsg> open_session(const std::string& sid, std::uint64_t version = 1);
  bool send_ft(const std::string& typ, const std::string& sid, protocol::Bytes body,
               protocol::Map props = {});

  // Downloads as deviceconnect does: acks every 10 chunks and after EOF. Returns the
  // bytes, or sets `error` to the device's error text.
  protocol::Bytes download(const std::string& sid, const std::string& path, std::string& error);
  // Uploads as deviceconnect does: 4096-byte chunks, at most 20 unacknowledged,
  // then the EOF chunk and the final ack. Empty on success, else the device's error.
  // `stop_after` > 0 stops sending (without EOF) after that many bytes.
  std::string upload(const std::string& sid, const protocol::filetransfer::UploadRequest& request,
                     const protocol::Bytes& data, std::int64_t stop_after = 0);

  // The error text of a file transfer `error` message.
  static std::string error_text(const protocol::ProtoMsg& msg);

  std::filesystem::path root_;
};

// Deterministic, incompressible-looking test data.
protocol::Bytes pattern(std::size_t size, std::uint32_t seed = 1);
protocol::Bytes read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const protocol::Bytes& data);
// Names in `dir` (not recursive), sorted.
std::vector<std::string> list_dir(const std::filesystem::path& dir);

}  // namespace tether::test
