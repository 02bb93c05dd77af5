#include "hub/store/sqlite_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "hub/store/sqlite_db.hpp"

namespace tether::hub {

namespace {

using sqlite::Stmt;

constexpr const char* kColumns =
    "id, created_ms, last_seen_ms, version, state, boot_id, uptime_s, status_ms";

DeviceRecord read_row(const Stmt& s) {
  DeviceRecord r;
  r.id = s.text(0);
  r.created_ms = s.int64(1);
  r.last_seen_ms = s.is_null(2) ? 0 : s.int64(2);
  r.version = s.text(3);
  r.state = s.text(4);
  r.boot_id = s.text(5);
  r.uptime_s = s.is_null(6) ? -1 : s.int64(6);
  r.status_ms = s.is_null(7) ? 0 : s.int64(7);
  return r;
}

}  // namespace

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& state_dir,
                                                       WriteErrorSink* errors) {
  auto conn = sqlite::open_store_file(
      state_dir, "hub.db",
      {
          "CREATE TABLE IF NOT EXISTS devices ("
          " id TEXT PRIMARY KEY,"
          " token_sha256 TEXT NOT NULL UNIQUE,"
          " created_ms INTEGER NOT NULL,"
          " last_seen_ms INTEGER,"
          " version TEXT, state TEXT, boot_id TEXT, uptime_s INTEGER, status_ms INTEGER)",
      },
      "NORMAL", 2000);
  if (!conn.ok()) return conn.error();
  return std::unique_ptr<SqliteStore>(new SqliteStore(conn->reader, conn->writer, errors));
}

SqliteStore::SqliteStore(sqlite3* reader, sqlite3* writer, WriteErrorSink* errors)
    : reader_(reader),
      writer_(writer),
      errors_(errors),
      batches_({.write = [this](Batch& batch) { return write_batch(batch); },
                .complete =
                    [this](Batch&, const Status& written) {
                      if (!written.ok() && errors_ != nullptr)
                        errors_->write_failed(written.error());
                    }}) {}

SqliteStore::~SqliteStore() {
  batches_.stop();
  sqlite3_close(writer_);
  sqlite3_close(reader_);
}

Status SqliteStore::write_batch(const Batch& batch) {
  return sqlite::transaction(
      writer_, "writing a batch of " + std::to_string(batch.size()) + " devices", [&]() -> Status {
        Stmt seen(writer_, "UPDATE devices SET last_seen_ms = ?2 WHERE id = ?1");
        if (!seen.ok()) return seen.error("updating last seen");
        Stmt status(writer_,
                    "UPDATE devices SET last_seen_ms = MAX(COALESCE(last_seen_ms, 0), ?2), "
                    "status_ms = ?2, version = ?3, state = ?4, boot_id = ?5, "
                    "uptime_s = CASE WHEN ?6 < 0 THEN NULL ELSE ?6 END WHERE id = ?1");
        if (!status.ok()) return status.error("recording status");
        for (const auto& [id, change] : batch) {
          if (change.seen_ms) {
            seen.bind(1, id);
            seen.bind(2, *change.seen_ms);
            if (seen.step() != SQLITE_DONE) return seen.error("updating last seen");
            seen.reset();
          }
          if (change.status) {
            const StatusUpdate& st = *change.status;
            status.bind(1, id);
            status.bind(2, change.status_ms);
            status.bind(3, st.version);
            status.bind(4, st.state);
            status.bind(5, st.boot_id);
            status.bind(6, st.uptime_s);
            if (status.step() != SQLITE_DONE) return status.error("recording status");
            status.reset();
          }
        }
        return Status::Ok();
      });
}

void SqliteStore::record_seen(const std::string& id, std::int64_t now_ms) {
  batches_.queue([&](Batch& queued) {
    auto& change = queued[id];
    if (!change.seen_ms || *change.seen_ms < now_ms) change.seen_ms = now_ms;
  });
}

void SqliteStore::record_status(const std::string& id, const StatusUpdate& status,
                                std::int64_t now_ms) {
  batches_.queue([&](Batch& queued) {
    auto& change = queued[id];
    change.status = status;
    change.status_ms = now_ms;
  });
}

Status SqliteStore::flush() {
  return batches_.flush();
}

std::uint64_t SqliteStore::batches_written() const {
  return batches_.batches_written();
}

void SqliteStore::overlay(DeviceRecord& record, const Batch& queued, const Batch& in_flight) {
  for (const Batch* batch : {&in_flight, &queued}) {
    auto it = batch->find(record.id);
    if (it == batch->end()) continue;
    const PendingWrite& change = it->second;
    if (change.seen_ms) record.last_seen_ms = std::max(record.last_seen_ms, *change.seen_ms);
    if (change.status) {
      record.last_seen_ms = std::max(record.last_seen_ms, change.status_ms);
      record.status_ms = change.status_ms;
      record.version = change.status->version;
      record.state = change.status->state;
      record.boot_id = change.status->boot_id;
      record.uptime_s = change.status->uptime_s;
    }
  }
}

Status SqliteStore::put_device(const std::string& id, const std::string& token_sha256,
                               std::int64_t now_ms) {
  Stmt s(reader_,
         "INSERT INTO devices(id, token_sha256, created_ms) VALUES(?1, ?2, ?3) "
         "ON CONFLICT(id) DO UPDATE SET token_sha256 = excluded.token_sha256");
  if (!s.ok()) return s.error("registering device");
  s.bind(1, id);
  s.bind(2, token_sha256);
  s.bind(3, now_ms);
  if (s.step() != SQLITE_DONE) return s.error("registering device");
  return Status::Ok();
}

Status SqliteStore::put_devices(const std::vector<DeviceRegistration>& devices,
                                std::int64_t now_ms) {
  return sqlite::transaction(reader_, "registering devices", [&]() -> Status {
    Stmt s(reader_,
           "INSERT INTO devices(id, token_sha256, created_ms) VALUES(?1, ?2, ?3) "
           "ON CONFLICT(id) DO UPDATE SET token_sha256 = excluded.token_sha256");
    if (!s.ok()) return s.error("registering devices");
    for (const DeviceRegistration& device : devices) {
      s.bind(1, device.id);
      s.bind(2, device.token_sha256);
      s.bind(3, now_ms);
      if (s.step() != SQLITE_DONE) return s.error("registering " + device.id);
      s.reset();
    }
    return Status::Ok();
  });
}

Result<std::optional<std::string>> SqliteStore::device_for_token(const std::string& token_sha256) {
  Stmt s(reader_, "SELECT id FROM devices WHERE token_sha256 = ?1");
  if (!s.ok()) return s.error("looking up a token");
  s.bind(1, token_sha256);
  const int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(s.text(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return s.error("looking up a token");
}

Result<std::optional<DeviceRecord>> SqliteStore::get(const std::string& id) {
  // Under the writer's lock for the whole read: the writer cannot retire its
  // in-flight batch between the snapshot this read sees and the overlay laid over it.
  return batches_.inspect(
      [&](const Batch& queued, const Batch& in_flight) -> Result<std::optional<DeviceRecord>> {
        const std::string sql = std::string("SELECT ") + kColumns + " FROM devices WHERE id = ?1";
        Stmt s(reader_, sql.c_str());
        if (!s.ok()) return s.error("reading device");
        s.bind(1, id);
        const int rc = s.step();
        if (rc == SQLITE_DONE) return std::optional<DeviceRecord>();
        if (rc != SQLITE_ROW) return s.error("reading device");
        DeviceRecord record = read_row(s);
        overlay(record, queued, in_flight);
        return std::optional<DeviceRecord>(std::move(record));
      });
}

Result<std::vector<DeviceRecord>> SqliteStore::list() {
  return batches_.inspect(
      [&](const Batch& queued, const Batch& in_flight) -> Result<std::vector<DeviceRecord>> {
        const std::string sql = std::string("SELECT ") + kColumns + " FROM devices ORDER BY id";
        Stmt s(reader_, sql.c_str());
        if (!s.ok()) return s.error("listing devices");
        std::vector<DeviceRecord> out;
        int rc;
        while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_row(s));
        if (rc != SQLITE_DONE) return s.error("listing devices");
        for (auto& record : out) overlay(record, queued, in_flight);
        return out;
      });
}

}  // namespace tether::hub
