// What the hub keeps of each device's configuration (wire.md 5.2): every version
// an operator pushed (the whole desired document, who pushed it and when, and how
// the device answered), and what the device last reported it holds.
//
// Writes are queued and committed off the loop thread; put_version() takes a
// completion that runs on the writer thread once the row is committed (or the
// batch failed), so the config service sends a version to a device only after
// the hub has it on disk. Reads are synchronous and see every write queued before
// them (read-your-writes), committed or not; a write whose batch fails is
// forgotten by the reads too.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.hpp"

namespace tether::hub {

// How the device answered one pushed version.
enum class ConfigState : std::uint8_t {
  kPending,     // not answered yet: sent on every connect until it is
  kApplied,     // the device answered `applied` with this version (or reported it current)
  kError,       // the device answered `error` (reason), or holds a newer version
  kSuperseded,  // a newer version was pushed before this one was answered
};

std::string_view config_state_name(ConfigState state);
std::optional<ConfigState> parse_config_state(std::string_view name);

// One pushed version. `document_json` is the whole desired config, a JSON object:
// every version is self-contained, whatever the operator sent (merge or replace).
struct ConfigVersion {
  std::uint64_t version = 0;
  std::string document_json = "{}";
  std::string mode;  // "merge" / "replace": how the operator pushed it
  std::string pushed_by;
  std::int64_t pushed_ms = 0;
  ConfigState state = ConfigState::kPending;
  std::string reason;            // the device's error, when state is kError
  std::int64_t answered_ms = 0;  // 0 = not answered
};

// What the device said it holds (its `current`, or an `applied` of a version
// whose document the hub knows).
struct ReportedConfig {
  std::uint64_t version = 0;
  std::string values_json = "{}";
  std::int64_t at_ms = 0;
};

class ConfigStore {
 public:
  // Runs on the writer thread once the batch holding the write has committed.
  using Committed = std::function<void(const Status&)>;

  // Versions kept per device; older ones are deleted as new ones are stored.
  static constexpr std::size_t kMaxHistory = 200;

  virtual ~ConfigStore() = default;

  // --- queued writes ---
  // Inserts or replaces the row (device, version.version). `done` may be empty.
  virtual void put_version(const std::string& device, const ConfigVersion& version,
                           Committed done) = 0;
  virtual void put_reported(const std::string& device, const ReportedConfig& reported) = 0;

  // --- reads (see queued writes) ---
  // The newest version pushed to the device, if any.
  virtual Result<std::optional<ConfigVersion>> latest(const std::string& device) = 0;
  // Newest first, at most `limit`.
  virtual Result<std::vector<ConfigVersion>> history(const std::string& device,
                                                     std::size_t limit) = 0;
  virtual Result<std::optional<ReportedConfig>> reported(const std::string& device) = 0;

  // Waits for every queued write; returns the first failure since the last flush.
  virtual Status flush() = 0;
};

}  // namespace tether::hub
