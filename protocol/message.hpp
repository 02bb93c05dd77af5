// The ProtoMsg envelope (wire.md section 2): every WebSocket message is one of these.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/codec.hpp"
#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol {

// Protocol numbers (wire.md section 2). Kept as plain constants rather than an enum
// class because the wire carries any uint16 and unknown ones must be representable.
namespace proto {
inline constexpr std::uint16_t kShell = 0x0001;
inline constexpr std::uint16_t kFileTransfer = 0x0002;
inline constexpr std::uint16_t kPortForward = 0x0003;
inline constexpr std::uint16_t kClient = 0x0004;
inline constexpr std::uint16_t kMonitoring = 0x0010;
inline constexpr std::uint16_t kConfig = 0x0011;
inline constexpr std::uint16_t kUpdate = 0x0012;
inline constexpr std::uint16_t kCommand = 0x0013;
inline constexpr std::uint16_t kControl = 0xFFFF;
}  // namespace proto

struct ProtoHdr {
  std::uint16_t proto = 0;
  std::string typ;
  std::string sid;
  Map props;

  // Typed props accessors. nullopt when absent, nil, or of another type; integers
  // of any msgpack width are accepted when the value fits.
  std::optional<std::string_view> prop_str(std::string_view key) const;
  std::optional<std::int64_t> prop_int(std::string_view key) const;
  std::optional<std::uint64_t> prop_uint(std::string_view key) const;
  std::optional<bool> prop_bool(std::string_view key) const;

  friend bool operator==(const ProtoHdr&, const ProtoHdr&) = default;
};

struct ProtoMsg {
  ProtoHdr hdr;
  Bytes body;

  friend bool operator==(const ProtoMsg&, const ProtoMsg&) = default;
};

// Encodes byte for byte as the Go peer does: keys in order (hdr, body; proto, typ,
// sid, props), proto as uint16, empty fields omitted, body as bin, and the `offset`
// prop as int64.
Bytes encode(const ProtoMsg& msg);

// Decodes leniently (any key order, unknown keys ignored, nil = absent, any integer
// width, body as bin or str) but bounded by `limits`. Fails when the top level is
// not a map, or `hdr` / `hdr.proto` is missing or of the wrong type.
Result<ProtoMsg> decode(std::span<const std::uint8_t> data, const DecodeLimits& limits = {});

// Convenience: a message with a msgpack-encoded map body, as tether's own protocols
// and control use.
ProtoMsg make_msg(std::uint16_t proto_number, std::string typ, std::string sid = {}, Map props = {},
                  Bytes body = {});

}  // namespace tether::protocol
