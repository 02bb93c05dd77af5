// The file transfer protocol (0x0002, spec/sessions.md section 1), byte-compatible
// with Mender's mender-connect and deviceconnect: names, window figures, Go
// os.FileMode bits, and the bodies of stat/get_file/put_file/file_info/error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol::filetransfer {

namespace typ {
inline constexpr std::string_view kStat = "stat";
inline constexpr std::string_view kFileInfo = "file_info";
inline constexpr std::string_view kGetFile = "get_file";
inline constexpr std::string_view kPutFile = "put_file";
inline constexpr std::string_view kChunk = "file_chunk";
inline constexpr std::string_view kAck = "ack";
inline constexpr std::string_view kError = "error";
}  // namespace typ

// The `offset` prop of file_chunk and ack: always int64 on the wire.
inline constexpr std::string_view kOffsetProp = "offset";

// Mender's figures: chunk bodies of at most 4096 bytes; a sender keeps at most 20
// chunks beyond the last ack; an uploading device acks after at most 10 chunks.
inline constexpr std::size_t kChunkSize = 4096;
inline constexpr std::size_t kWindowChunks = 20;
inline constexpr std::size_t kWindowBytes = kChunkSize * kWindowChunks;
inline constexpr std::size_t kAckEveryChunks = 10;

// Go's os.FileMode type bits (perms are the low 9 bits).
namespace mode {
inline constexpr std::uint32_t kDir = 1U << 31;
inline constexpr std::uint32_t kSymlink = 1U << 27;
inline constexpr std::uint32_t kDevice = 1U << 26;
inline constexpr std::uint32_t kNamedPipe = 1U << 25;
inline constexpr std::uint32_t kSocket = 1U << 24;
inline constexpr std::uint32_t kSetuid = 1U << 23;
inline constexpr std::uint32_t kSetgid = 1U << 22;
inline constexpr std::uint32_t kCharDevice = 1U << 21;
inline constexpr std::uint32_t kSticky = 1U << 20;
inline constexpr std::uint32_t kIrregular = 1U << 19;
inline constexpr std::uint32_t kPerm = 0777;
// Any of these set: not a regular file.
inline constexpr std::uint32_t kTypeMask =
    kDir | kSymlink | kDevice | kNamedPipe | kSocket | kCharDevice | kIrregular;
}  // namespace mode

// A POSIX st_mode as Go's os.Stat reports it in FileMode bits.
std::uint32_t go_file_mode(std::uint32_t st_mode);

// file_info's body (device -> peer). Mender's Go struct writes every field, the
// size as int64 (0xd3), uid/gid/mode as uint32 (0xce) and modtime as a msgpack
// timestamp; encode() does the same, in the same order.
struct FileInfo {
  std::string path;
  std::int64_t size = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t mode = 0;
  std::int64_t modtime_ns = 0;  // nanoseconds since the Unix epoch

  Bytes encode() const;
  static Result<FileInfo> decode(std::span<const std::uint8_t> body,
                                 const DecodeLimits& limits = {});
  friend bool operator==(const FileInfo&, const FileInfo&) = default;
};

// The body of `stat` and `get_file`: {path}.
struct PathRequest {
  std::string path;

  Bytes encode() const;
  static Result<PathRequest> decode(std::span<const std::uint8_t> body,
                                    const DecodeLimits& limits = {});
};

// put_file's body. Absent fields take the device's defaults (mode 0644, the
// daemon's own uid and gid).
struct UploadRequest {
  std::optional<std::string> src_path;
  std::string path;
  std::optional<std::int64_t> size;
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
  std::optional<std::uint32_t> mode;
  std::optional<std::int64_t> modtime_ns;

  Bytes encode() const;
  static Result<UploadRequest> decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits = {});
};

// The body of a file transfer `error`: {err, msgtype}.
struct TransferError {
  std::string err;
  std::string msgtype;

  Bytes encode() const;
  static Result<TransferError> decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits = {});
};

}  // namespace tether::protocol::filetransfer
