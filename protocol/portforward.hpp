// The port forward protocol (0x0003, spec/sessions.md section 2) and the Mender
// client protocol (0x0004, section 3), byte-compatible with mender-connect.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol::portforward {

namespace typ {
inline constexpr std::string_view kNew = "new";
inline constexpr std::string_view kForward = "forward";
inline constexpr std::string_view kAck = "ack";
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kError = "error";
}  // namespace typ

inline constexpr std::string_view kConnectionIdProp = "connection_id";
inline constexpr std::string_view kUserIdProp = "user_id";

// The device reads at most this much from a forwarded socket per `forward`.
inline constexpr std::size_t kChunkSize = 4096;

// `new`'s body. All three fields (and the connection_id prop) are required.
struct NewConnection {
  std::string remote_host;
  std::uint16_t remote_port = 0;
  std::string protocol;  // "tcp" or "udp"

  Bytes encode() const;
  static Result<NewConnection> decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits = {});
};

// The body of a port forward `error`: {err, msgtype}.
struct ForwardError {
  std::string err;
  std::string msgtype;

  Bytes encode() const;
};

}  // namespace tether::protocol::portforward

namespace tether::protocol::menderclient {

namespace typ {
inline constexpr std::string_view kCheckUpdate = "check-update";
inline constexpr std::string_view kSendInventory = "send-inventory";
}  // namespace typ

inline constexpr std::string_view kStatusProp = "status";
inline constexpr std::int64_t kStatusOk = 1;
inline constexpr std::int64_t kStatusError = 2;

}  // namespace tether::protocol::menderclient
