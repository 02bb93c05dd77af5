// The config protocol (0x0011, wire.md section 5.2): the backend sets a versioned
// key/value configuration that the device persists and announces to local apps.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol {

namespace config {
inline constexpr char kSet[] = "set";
inline constexpr char kApplied[] = "applied";
inline constexpr char kGet[] = "get";  // no body
inline constexpr char kCurrent[] = "current";
inline constexpr char kError[] = "error";
}  // namespace config

// Backend -> device. `values` is merged into the stored config (a nil value deletes
// its key, so nils are kept here, not dropped), or replaces it when `replace`.
// Values are msgpack scalars, arrays and maps; an extension type anywhere makes the
// body undecodable.
struct ConfigSet {
  std::uint64_t version = 0;
  Map values;
  std::optional<bool> replace;

  Bytes encode() const;
  static Result<ConfigSet> decode(std::span<const std::uint8_t> body,
                                  const DecodeLimits& limits = {});
  friend bool operator==(const ConfigSet&, const ConfigSet&) = default;
};

// Device -> backend: the config now in force has `version`.
struct ConfigApplied {
  std::uint64_t version = 0;

  Bytes encode() const;
  static Result<ConfigApplied> decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits = {});
  friend bool operator==(const ConfigApplied&, const ConfigApplied&) = default;
};

// Device -> backend, after every connect and in answer to `get`.
struct ConfigCurrent {
  std::uint64_t version = 0;
  Map values;

  Bytes encode() const;
  static Result<ConfigCurrent> decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits = {});
  friend bool operator==(const ConfigCurrent&, const ConfigCurrent&) = default;
};

// Device -> backend: `set` of `version` was refused, and nothing changed.
struct ConfigError {
  std::uint64_t version = 0;
  std::string err;

  Bytes encode() const;
  static Result<ConfigError> decode(std::span<const std::uint8_t> body,
                                    const DecodeLimits& limits = {});
  friend bool operator==(const ConfigError&, const ConfigError&) = default;
};

}  // namespace tether::protocol
