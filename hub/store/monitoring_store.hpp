// What the hub keeps of each device's monitoring stream (wire.md 5.1): records
// (data, alert, dropped) keyed by (device, seq), the open alerts, the device's
// last status with its inventory, and its online/offline history.
//
// Writes are queued and committed in batches off the loop thread. append() hands
// a completion that runs (on the writer thread) only after the batch holding the
// records has committed: that is what lets the hub acknowledge a seq only once it
// is safe. A record whose (device, seq) is already stored is not stored again; its
// completion still reports success (the device gets its ack).
//
// Reads are synchronous and see committed data only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol/result.hpp"

namespace tether::hub {

enum class RecordKind { kData, kAlert, kDropped };

// The kind's name, as the store keeps it and the JSON API says it.
constexpr const char* record_kind_name(RecordKind kind) {
  switch (kind) {
    case RecordKind::kData:
      return "data";
    case RecordKind::kAlert:
      return "alert";
    case RecordKind::kDropped:
      return "dropped";
  }
  return "data";
}

// One record as the hub stores it. `body_json` is the record's body as a JSON
// object (values / details / the dropped range), made by the intake.
struct MonitoringRecord {
  std::uint64_t seq = 0;
  std::int64_t ts = 0;  // device time, ms since the epoch
  RecordKind kind = RecordKind::kData;
  std::string stream;  // data: the stream; alert: the alert id; dropped: empty
  std::string body_json;
  // alert only: what the open-alert table needs.
  std::string severity;
  std::string alert_state;  // "raised" / "cleared"
  std::string summary;
};

// A stored record as reads return it; `cursor` grows with every stored record of
// the hub (the UI polls "everything after cursor").
struct StoredRecord {
  std::int64_t cursor = 0;
  std::string device;
  MonitoringRecord record;
  std::int64_t received_ms = 0;
};

struct OpenAlert {
  std::string id;
  std::string severity;
  std::string summary;
  std::int64_t ts = 0;
  std::uint64_t seq = 0;
};

struct DeviceStatusRecord {
  std::string state;
  std::string version;
  std::string boot_id;
  std::int64_t uptime_s = -1;
  std::string inventory_json = "{}";
  std::int64_t at_ms = 0;
};

struct PresenceEvent {
  std::int64_t at_ms = 0;
  std::string event;  // "online" / "offline"
  std::string detail;
};

// One downsampled point: the bucket's first timestamp and the mean, min and max
// of the field in it.
struct SeriesPoint {
  std::int64_t ts = 0;
  double mean = 0;
  double min = 0;
  double max = 0;
  std::int64_t count = 0;
};

struct SeriesQuery {
  std::string device;
  std::string stream;
  std::string field;
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::size_t max_points = 500;  // the answer has at most this many buckets
};

class MonitoringStore {
 public:
  // Runs on the writer thread once the batch is committed (or failed).
  using Committed = std::function<void(const Status&)>;

  virtual ~MonitoringStore() = default;

  // --- queued writes ---
  virtual void append(const std::string& device, std::vector<MonitoringRecord> records,
                      Committed done) = 0;
  virtual void record_status(const std::string& device, const DeviceStatusRecord& status) = 0;
  virtual void record_presence(const std::string& device, const PresenceEvent& event) = 0;

  // --- reads (committed data) ---
  virtual Result<std::vector<StoredRecord>> latest_per_stream(const std::string& device) = 0;
  virtual Result<std::vector<StoredRecord>> records_after(const std::string& device,
                                                          std::int64_t cursor,
                                                          std::size_t limit) = 0;
  // Alert records, newest first.
  virtual Result<std::vector<StoredRecord>> alert_history(const std::string& device,
                                                          std::size_t limit) = 0;
  virtual Result<std::vector<OpenAlert>> open_alerts(const std::string& device) = 0;
  // Open alerts per device, for the device list.
  virtual Result<std::vector<std::pair<std::string, std::size_t>>> open_alert_counts() = 0;
  virtual Result<std::optional<DeviceStatusRecord>> status(const std::string& device) = 0;
  // Newest first.
  virtual Result<std::vector<PresenceEvent>> presence(const std::string& device,
                                                      std::size_t limit) = 0;
  virtual Result<std::vector<SeriesPoint>> series(const SeriesQuery& query) = 0;
  // How many records the device has stored (tests, the API).
  virtual Result<std::int64_t> count(const std::string& device) = 0;
  // The cursor of the device's newest stored record (0 when none).
  virtual Result<std::int64_t> last_cursor(const std::string& device) = 0;

  // Waits for every queued write; returns the first failure since the last flush.
  virtual Status flush() = 0;
};

// Retention and per-stream bounds of stored history.
struct MonitoringRetention {
  // Records received longer ago than this are deleted (and presence events).
  double retention_days = 30;
  // How often the writer prunes, seconds.
  double prune_interval_s = 3600;
  // At most this many records are kept per (device, stream); the oldest go first.
  std::int64_t max_records_per_stream = 1000000;
};

}  // namespace tether::hub
