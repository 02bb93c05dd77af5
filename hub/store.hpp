// The device registry in SQLite (STATE_DIR/hub.db, WAL mode): one row per device
// with the SHA-256 of its token (the token itself is never stored) and what the
// hub last learned about it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/result.hpp"

struct sqlite3;

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

struct StatusUpdate {
  std::string version;
  std::string state;
  std::string boot_id;
  std::int64_t uptime_s = -1;
};

class Store {
 public:
  // Opens (creating when needed) STATE_DIR/hub.db; creates STATE_DIR (0700).
  static Result<std::unique_ptr<Store>> open(const std::string& state_dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Registers `id` with the token's SHA-256, or replaces the hash of an existing device.
  Status put_device(const std::string& id, const std::string& token_sha256, std::int64_t now_ms);
  // The device whose token hashes to `token_sha256`, if any.
  Result<std::optional<std::string>> device_for_token(const std::string& token_sha256);
  Result<std::optional<DeviceRecord>> get(const std::string& id);
  Result<std::vector<DeviceRecord>> list();
  Status touch(const std::string& id, std::int64_t now_ms);
  Status record_status(const std::string& id, const StatusUpdate& status, std::int64_t now_ms);

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);
  sqlite3* db_;
};

// A valid device id: 1..128 of [A-Za-z0-9._:-].
bool valid_device_id(std::string_view id);

}  // namespace tether::hub
