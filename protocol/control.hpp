// The control protocol (0xFFFF, wire.md section 3): keepalive at the application
// level, opening and closing routed sessions, and error reports about messages.
// Mender-compatible, so the bodies follow the Go peer's field names and widths.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol {

namespace control {
inline constexpr char kPing[] = "ping";
inline constexpr char kPong[] = "pong";
inline constexpr char kOpen[] = "open";
inline constexpr char kAccept[] = "accept";
inline constexpr char kClose[] = "close";
inline constexpr char kError[] = "error";

// The only control/session protocol version there is.
inline constexpr std::uint64_t kVersion = 1;
}  // namespace control

// Backend -> device: open a routed session; `versions` lists what the backend speaks.
struct ControlOpen {
  std::vector<std::uint64_t> versions;

  Bytes encode() const;
  static Result<ControlOpen> decode(std::span<const std::uint8_t> body,
                                    const DecodeLimits& limits = {});
  friend bool operator==(const ControlOpen&, const ControlOpen&) = default;
};

// Device -> backend: the session is open, with the chosen version and the protocol
// numbers this device has enabled. The protocol numbers are written as uint16
// (0xcd + 2 bytes), as the Go peer does for its protocol type.
struct ControlAccept {
  std::uint64_t version = control::kVersion;
  std::vector<std::uint16_t> protocols;

  Bytes encode() const;
  static Result<ControlAccept> decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits = {});
  friend bool operator==(const ControlAccept&, const ControlAccept&) = default;
};

// Either way: something was wrong with a message. `close` ends the session `sid`.
// msgproto / msgtype / msgid identify the offending message when known; msgproto
// is written as uint16 like hdr.proto.
struct ControlError {
  std::string err;
  bool close = false;
  std::optional<std::uint16_t> msgproto;
  std::optional<std::string> msgtype;
  std::optional<std::string> msgid;

  Bytes encode() const;
  static Result<ControlError> decode(std::span<const std::uint8_t> body,
                                     const DecodeLimits& limits = {});
  friend bool operator==(const ControlError&, const ControlError&) = default;
};

}  // namespace tether::protocol
