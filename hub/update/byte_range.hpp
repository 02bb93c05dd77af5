// The Range header of an artifact download (RFC 9110 section 14), reduced to what a
// resuming downloader sends: one range, "bytes=FIRST-", "bytes=FIRST-LAST" or
// "bytes=-SUFFIX". Anything else (several ranges, another unit, garbage) is ignored
// and the whole file is served with 200, which the RFC allows and every client
// understands. A range that starts at or past the end is unsatisfiable: 416.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tether::hub {

struct ByteRange {
  enum class Kind { kWhole, kPartial, kUnsatisfiable };
  Kind kind = Kind::kWhole;
  std::uint64_t first = 0;   // kPartial: first byte served
  std::uint64_t length = 0;  // kWhole / kPartial: bytes served
};

// What to serve of a file of `size` bytes for the request's Range header (nullopt
// when the request had none).
ByteRange choose_range(std::optional<std::string_view> header, std::uint64_t size);

}  // namespace tether::hub
