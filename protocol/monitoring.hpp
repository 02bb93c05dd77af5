// The monitoring protocol (0x0010, wire.md section 5.1): the device's status and
// its records (data, alerts, loss reports), which the backend acknowledges
// cumulatively by seq. The structs live in their own namespace because Status and
// Ack are names every protocol could claim (and tether::Status is the error type).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol::monitoring {

inline constexpr char kStatus[] = "status";
inline constexpr char kData[] = "data";
inline constexpr char kAlert[] = "alert";
inline constexpr char kDropped[] = "dropped";
inline constexpr char kAck[] = "ack";

// Status.state values.
inline constexpr char kOnline[] = "online";
inline constexpr char kShutdown[] = "shutdown";

// AlertRecord.severity values, most severe first.
inline constexpr std::array<std::string_view, 5> kSeverities = {"critical", "major", "minor",
                                                                "warning", "info"};
// AlertRecord.state values.
inline constexpr char kRaised[] = "raised";
inline constexpr char kCleared[] = "cleared";

// Device -> backend, after every connect ("online") and on a clean stop ("shutdown").
struct Status {
  std::string state;
  std::string device_id;
  std::string version;
  std::string boot_id;
  std::uint64_t uptime_s = 0;
  Map inventory;

  Bytes encode() const;
  static Result<Status> decode(std::span<const std::uint8_t> body, const DecodeLimits& limits = {});
  friend bool operator==(const Status&, const Status&) = default;
};

// A record of named values from a local app. `ts` is ms since the Unix epoch.
struct DataRecord {
  std::uint64_t seq = 0;
  std::int64_t ts = 0;
  std::string stream;
  Map values;

  Bytes encode() const;
  static Result<DataRecord> decode(std::span<const std::uint8_t> body,
                                   const DecodeLimits& limits = {});
  friend bool operator==(const DataRecord&, const DataRecord&) = default;
};

// An alert raised or cleared by a local app; `id` ties a clear to its raise.
struct AlertRecord {
  std::uint64_t seq = 0;
  std::int64_t ts = 0;
  std::string id;
  std::string severity;  // one of kSeverities
  std::string state;     // kRaised or kCleared
  std::string summary;
  Map details;

  Bytes encode() const;
  static Result<AlertRecord> decode(std::span<const std::uint8_t> body,
                                    const DecodeLimits& limits = {});
  friend bool operator==(const AlertRecord&, const AlertRecord&) = default;
};

// Says that records first..last (count of them) were discarded because the store
// was full: loss is reported, never silent.
struct DroppedRecord {
  std::uint64_t seq = 0;
  std::int64_t ts = 0;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t count = 0;

  Bytes encode() const;
  static Result<DroppedRecord> decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits = {});
  friend bool operator==(const DroppedRecord&, const DroppedRecord&) = default;
};

// Backend -> device: every record with seq <= this one is safe at the backend.
struct Ack {
  std::uint64_t seq = 0;

  Bytes encode() const;
  static Result<Ack> decode(std::span<const std::uint8_t> body, const DecodeLimits& limits = {});
  friend bool operator==(const Ack&, const Ack&) = default;
};

}  // namespace tether::protocol::monitoring
