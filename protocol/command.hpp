// The command protocol (0x0013, wire.md section 5.4): the backend asks an app on the
// gateway to act (`request`), the device answers exactly once per id (`result`),
// the backend confirms it has stored the answer (`ack`), and the device says which
// targets apps have registered (`targets`).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol::command {

inline constexpr char kRequest[] = "request";
inline constexpr char kResult[] = "result";
inline constexpr char kAck[] = "ack";
inline constexpr char kTargets[] = "targets";

// Result.status values.
inline constexpr char kOk[] = "ok";
inline constexpr char kError[] = "error";
inline constexpr char kNoTarget[] = "no-target";
inline constexpr char kTimeout[] = "timeout";
inline constexpr char kBusy[] = "busy";
inline constexpr char kInvalid[] = "invalid";
inline constexpr std::array<std::string_view, 6> kStatuses = {kOk,      kError, kNoTarget,
                                                              kTimeout, kBusy,  kInvalid};

// Bounds on the strings a peer controls: an id, a target or an action longer than
// this is refused as invalid (they are kept in memory and in the store per request).
inline constexpr std::size_t kMaxIdBytes = 256;
inline constexpr std::size_t kMaxNameBytes = 256;

// Backend -> device: ask the app holding `target` to perform `action`.
struct Request {
  std::string id;
  std::string target;
  std::string action;
  std::optional<Map> args;
  std::optional<std::uint64_t> timeout_s;

  Bytes encode() const;
  // Fails on a body that is not a map, a missing or mistyped field, an empty or
  // oversized id, target or action.
  static tether::Result<Request> decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits = {});
  friend bool operator==(const Request&, const Request&) = default;
};

// The request's id when it can be read from a body that does not decode as a whole
// (so that the `invalid` result can echo it): a map with a string `id` of at most
// kMaxIdBytes. nullopt otherwise.
std::optional<std::string> peek_id(std::span<const std::uint8_t> body,
                                   const DecodeLimits& limits = {});

// Device -> backend: the one outcome of request `id` (typ `result`; named ResultBody
// because tether::Result is the error-carrying return type). `ts` is ms since the epoch.
struct ResultBody {
  std::string id;
  std::string status;  // one of kStatuses
  std::optional<Map> ret;
  std::optional<std::string> err;
  std::int64_t ts = 0;

  Bytes encode() const;
  static tether::Result<ResultBody> decode(std::span<const std::uint8_t> body,
                                           const DecodeLimits& limits = {});
  friend bool operator==(const ResultBody&, const ResultBody&) = default;
};

// Backend -> device: the result of `id` is stored at the backend.
struct Ack {
  std::string id;

  Bytes encode() const;
  static tether::Result<Ack> decode(std::span<const std::uint8_t> body,
                                    const DecodeLimits& limits = {});
  friend bool operator==(const Ack&, const Ack&) = default;
};

// Device -> backend: the targets apps hold now.
struct Targets {
  std::vector<std::string> targets;

  Bytes encode() const;
  static tether::Result<Targets> decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits = {});
  friend bool operator==(const Targets&, const Targets&) = default;
};

}  // namespace tether::protocol::command
