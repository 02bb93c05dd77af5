// The hub's persistent state behind one interface: the device registry (token
// hashes) and what the hub last learned about each device. SqlDeviceStore
// (sql_device_store.hpp) keeps it on SQLite or PostgreSQL (store.url); nothing
// here is shaped by either:
//
// - Writes that happen on the traffic path (presence, status) are fire-and-forget:
//   record_*() queues the change and returns at once; an implementation coalesces
//   them per device and applies them in batches off the loop thread. A failed
//   batch is reported to the WriteErrorSink, not to the caller (who has moved on).
// - Reads see every write queued before them (read-your-writes), whether or not
//   its batch has been applied yet.
// - Administrative writes (registering a device from the command line) are
//   synchronous and return their Status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.hpp"

namespace tether::hub {

struct DeviceRecord {
  std::string id;
  std::int64_t created_ms = 0;
  std::int64_t last_seen_ms = 0;  // 0 = never connected
  std::string version;            // from monitoring status
  std::string state;              // last monitoring status state ("online", "shutdown")
  std::string boot_id;
  std::int64_t uptime_s = -1;  // -1 = unknown
  std::int64_t status_ms = 0;  // when the last status arrived
};

// One device of a bulk registration (tether-hub --add-devices).
struct DeviceRegistration {
  std::string id;
  std::string token_sha256;
};

struct StatusUpdate {
  std::string version;
  std::string state;
  std::string boot_id;
  std::int64_t uptime_s = -1;
};

// Where an implementation reports a write batch that failed. Called from the
// writer thread: implementations of this must be thread-safe (the logger is).
class WriteErrorSink {
 public:
  virtual ~WriteErrorSink() = default;
  virtual void write_failed(const Error& error) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- administrative, synchronous ---
  // Registers `id` with the token's SHA-256, or replaces the hash of an existing device.
  virtual Status put_device(const std::string& id, const std::string& token_sha256,
                            std::int64_t now_ms) = 0;
  // Registers many devices at once: all or none. The default does one put_device
  // per device; an implementation with transactions overrides it.
  virtual Status put_devices(const std::vector<DeviceRegistration>& devices, std::int64_t now_ms) {
    for (const auto& d : devices) {
      if (auto s = put_device(d.id, d.token_sha256, now_ms); !s.ok()) return s;
    }
    return Status::Ok();
  }

  // --- reads (see every write queued before them) ---
  // The device whose token hashes to `token_sha256`, if any.
  virtual Result<std::optional<std::string>> device_for_token(const std::string& token_sha256) = 0;
  virtual Result<std::optional<DeviceRecord>> get(const std::string& id) = 0;
  virtual Result<std::vector<DeviceRecord>> list() = 0;

  // --- traffic-path writes: queued, batched, applied off the loop thread ---
  virtual void record_seen(const std::string& id, std::int64_t now_ms) = 0;
  virtual void record_status(const std::string& id, const StatusUpdate& status,
                             std::int64_t now_ms) = 0;

  // Waits until every write queued so far is applied (shutdown, tests). Returns
  // the first failure since the last flush, if any.
  virtual Status flush() = 0;
};

// A valid device id: 1..128 of [A-Za-z0-9._:-].
bool valid_device_id(std::string_view id);

// Milliseconds since the Unix epoch (what the store's *_ms fields hold).
std::int64_t now_ms();

}  // namespace tether::hub
