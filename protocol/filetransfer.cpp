#include "protocol/filetransfer.hpp"

#include <sys/stat.h>

#include <limits>
#include <utility>

#include "protocol/codec.hpp"
#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::protocol::filetransfer {
namespace {

// An optional integer field that must fit `T`; records a problem otherwise.
template <typename T>
std::optional<T> optional_integer(FieldReader& fields, Map& map, std::string_view key) {
  const Value* value = find(map, key);
  if (value == nullptr) return std::nullopt;
  auto i = value->as_int();
  if (!i) {
    fields.fail(key, type_mismatch("an integer", *value));
    return std::nullopt;
  }
  if (*i < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
      static_cast<std::uint64_t>(*i) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
    fields.fail(key, std::to_string(*i) + " is out of range");
    return std::nullopt;
  }
  return static_cast<T>(*i);
}

}  // namespace

std::uint32_t go_file_mode(std::uint32_t st_mode) {
  std::uint32_t out = st_mode & mode::kPerm;
  switch (st_mode & S_IFMT) {
    case S_IFBLK:
      out |= mode::kDevice;
      break;
    case S_IFCHR:
      out |= mode::kDevice | mode::kCharDevice;
      break;
    case S_IFDIR:
      out |= mode::kDir;
      break;
    case S_IFIFO:
      out |= mode::kNamedPipe;
      break;
    case S_IFLNK:
      out |= mode::kSymlink;
      break;
    case S_IFSOCK:
      out |= mode::kSocket;
      break;
    default:
      break;
  }
  if ((st_mode & S_ISUID) != 0) out |= mode::kSetuid;
  if ((st_mode & S_ISGID) != 0) out |= mode::kSetgid;
  if ((st_mode & S_ISVTX) != 0) out |= mode::kSticky;
  return out;
}

Bytes FileInfo::encode() const {
  Writer w;
  w.map_header(6);
  w.str("path");
  w.str(path);
  w.str("size");
  w.int64_fixed(size);
  w.str("uid");
  w.uint32_fixed(uid);
  w.str("gid");
  w.uint32_fixed(gid);
  w.str("mode");
  w.uint32_fixed(mode);
  w.str("modtime");
  w.timestamp(modtime_ns);
  Bytes out = w.take();
  return out;
}

Result<FileInfo> FileInfo::decode(std::span<const std::uint8_t> body, const DecodeLimits& limits) {
  return decode_schema<FileInfo>(body, limits, "file_info", [](FieldReader& fields) {
    FileInfo info;
    info.path = fields.str("path");
    info.size = fields.int64("size");
    const auto raw_uid = fields.opt_uint("uid").value_or(0);
    const auto raw_gid = fields.opt_uint("gid").value_or(0);
    const auto raw_mode = fields.uint("mode");
    if (raw_uid > std::numeric_limits<std::uint32_t>::max()) fields.fail("uid", "out of range");
    if (raw_gid > std::numeric_limits<std::uint32_t>::max()) fields.fail("gid", "out of range");
    if (raw_mode > std::numeric_limits<std::uint32_t>::max()) fields.fail("mode", "out of range");
    info.uid = static_cast<std::uint32_t>(raw_uid);
    info.gid = static_cast<std::uint32_t>(raw_gid);
    info.mode = static_cast<std::uint32_t>(raw_mode);
    info.modtime_ns = fields.int64("modtime");
    return info;
  });
}

Bytes PathRequest::encode() const {
  Writer w;
  w.map_header(1);
  w.str("path");
  w.str(path);
  return w.take();
}

Result<PathRequest> PathRequest::decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits) {
  return decode_schema<PathRequest>(body, limits, "malformed request parameters",
                                    [](FieldReader& fields) {
                                      PathRequest request;
                                      request.path = fields.str("path");
                                      return request;
                                    });
}

Bytes UploadRequest::encode() const {
  Writer w;
  std::size_t entries = 1;
  for (bool present : {src_path.has_value(), size.has_value(), uid.has_value(), gid.has_value(),
                       mode.has_value(), modtime_ns.has_value()}) {
    entries += present ? 1 : 0;
  }
  w.map_header(entries);
  if (src_path) {
    w.str("src_path");
    w.str(*src_path);
  }
  w.str("path");
  w.str(path);
  if (size) {
    w.str("size");
    w.int64_fixed(*size);
  }
  if (uid) {
    w.str("uid");
    w.uint32_fixed(*uid);
  }
  if (gid) {
    w.str("gid");
    w.uint32_fixed(*gid);
  }
  if (mode) {
    w.str("mode");
    w.uint32_fixed(*mode);
  }
  if (modtime_ns) {
    w.str("modtime");
    w.timestamp(*modtime_ns);
  }
  return w.take();
}

Result<UploadRequest> UploadRequest::decode(std::span<const std::uint8_t> body,
                                            const DecodeLimits& limits) {
  Result<Map> map = decode_body_map(body, limits);
  if (!map) return map.error().wrap("malformed request parameters");
  FieldReader fields(map.value());
  UploadRequest request;
  request.size = optional_integer<std::int64_t>(fields, *map, "size");
  request.uid = optional_integer<std::uint32_t>(fields, *map, "uid");
  request.gid = optional_integer<std::uint32_t>(fields, *map, "gid");
  request.mode = optional_integer<std::uint32_t>(fields, *map, "mode");
  request.modtime_ns = optional_integer<std::int64_t>(fields, *map, "modtime");
  request.src_path = fields.opt_str("src_path");
  request.path = fields.str("path");
  if (Status status = fields.status(); !status)
    return status.error().wrap("malformed request parameters");
  return request;
}

Bytes TransferError::encode() const {
  Writer w;
  w.map_header(2);
  w.str("err");
  w.str(err);
  w.str("msgtype");
  w.str(msgtype);
  return w.take();
}

Result<TransferError> TransferError::decode(std::span<const std::uint8_t> body,
                                            const DecodeLimits& limits) {
  return decode_schema<TransferError>(body, limits, "file transfer error", [](FieldReader& fields) {
    TransferError error;
    error.err = fields.str("err");
    error.msgtype = fields.opt_str("msgtype").value_or("");
    return error;
  });
}

}  // namespace tether::protocol::filetransfer
