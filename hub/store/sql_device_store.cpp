#include "hub/store/sql_device_store.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "hub/store/again_if_unavailable.hpp"
#include "hub/store/sql_store_connections.hpp"
#include "hub/store/storable_text.hpp"

namespace tether::hub {

namespace {

constexpr const char* kSelectDevice =
    "SELECT id, created_ms, last_seen_ms, version, state, boot_id, uptime_s, status_ms "
    "FROM devices";

constexpr const char* kPutDevice =
    "INSERT INTO devices(id, token_sha256, created_ms) VALUES($1, $2, $3) "
    "ON CONFLICT(id) DO UPDATE SET token_sha256 = excluded.token_sha256";

DeviceRecord read_row(const sql::Row& s) {
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

// Version 1 is the schema hub.db has always had (CREATE ... IF NOT EXISTS), so an
// existing state directory opens unchanged; both dialects read it the same way.
std::vector<sql::Migration> migrations() {
  return {{1,
           {"CREATE TABLE IF NOT EXISTS devices ("
            " id TEXT PRIMARY KEY,"
            " token_sha256 TEXT NOT NULL UNIQUE,"
            " created_ms INTEGER NOT NULL,"
            " last_seen_ms INTEGER,"
            " version TEXT, state TEXT, boot_id TEXT, uptime_s INTEGER, status_ms INTEGER)"}}};
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

Result<std::unique_ptr<SqlDeviceStore>> SqlDeviceStore::open(const sql::StoreUrl& url,
                                                             WriteErrorSink* errors) {
  auto conn = open_store_connections(
      url, "devices", {.sqlite_file = "hub.db", .synchronous = "NORMAL", .busy_timeout_ms = 2000},
      migrations());
  if (!conn.ok()) return conn.error();
  return std::unique_ptr<SqlDeviceStore>(
      new SqlDeviceStore(std::move(conn->reader), std::move(conn->writer), errors));
}

SqlDeviceStore::SqlDeviceStore(std::unique_ptr<sql::Connection> reader,
                               std::unique_ptr<sql::Connection> writer, WriteErrorSink* errors)
    : reader_(std::move(reader)),
      writer_(std::move(writer)),
      errors_(errors),
      batches_({.write = [this](Batch& batch) { return write_batch(batch); },
                .complete =
                    [this](Batch&, const Status& written) {
                      if (!written.ok() && errors_ != nullptr)
                        errors_->write_failed(written.error());
                    }}) {}

SqlDeviceStore::~SqlDeviceStore() {
  batches_.stop();
}

Status SqlDeviceStore::write_batch(const Batch& batch) {
  // A status never moves last_seen_ms back (a record_seen may be newer).
  const char* status_sql =
      writer_->dialect() == sql::Dialect::kSqlite
          ? "UPDATE devices SET last_seen_ms = MAX(COALESCE(last_seen_ms, 0), $2), "
            "status_ms = $2, version = $3, state = $4, boot_id = $5, uptime_s = $6 WHERE id = $1"
          : "UPDATE devices SET last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $2), "
            "status_ms = $2, version = $3, state = $4, boot_id = $5, uptime_s = $6 WHERE id = $1";
  return again_if_unavailable([&] {
    return sql::transaction(
        *writer_, "writing a batch of " + std::to_string(batch.size()) + " devices",
        [&]() -> Status {
          for (const auto& [id, change] : batch) {
            if (change.seen_ms) {
              auto seen = writer_->run("UPDATE devices SET last_seen_ms = $2 WHERE id = $1",
                                       {id, *change.seen_ms});
              if (!seen.ok()) return seen.error().wrap("updating last seen");
            }
            if (change.status) {
              const StatusUpdate& st = *change.status;
              // A negative uptime is "unknown": NULL.
              const sql::Param uptime =
                  st.uptime_s < 0 ? sql::Param(nullptr) : sql::Param(st.uptime_s);
              auto status = writer_->run(
                  status_sql, {id, change.status_ms, st.version, st.state, st.boot_id, uptime});
              if (!status.ok()) return status.error().wrap("recording status");
            }
          }
          return Status::Ok();
        });
  });
}

void SqlDeviceStore::record_seen(const std::string& id, std::int64_t now_ms) {
  batches_.queue([&](Batch& queued) {
    auto& change = queued[id];
    if (!change.seen_ms || *change.seen_ms < now_ms) change.seen_ms = now_ms;
  });
}

void SqlDeviceStore::record_status(const std::string& id, const StatusUpdate& status,
                                   std::int64_t now_ms) {
  StatusUpdate storable = status;
  for (std::string* text : {&storable.version, &storable.state, &storable.boot_id}) {
    make_storable(*text);
  }
  batches_.queue([&](Batch& queued) {
    auto& change = queued[id];
    change.status = std::move(storable);
    change.status_ms = now_ms;
  });
}

Status SqlDeviceStore::flush() {
  return batches_.flush();
}

std::uint64_t SqlDeviceStore::batches_written() const {
  return batches_.batches_written();
}

void SqlDeviceStore::overlay(DeviceRecord& record, const Batch& queued, const Batch& in_flight) {
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

Status SqlDeviceStore::put_device(const std::string& id, const std::string& token_sha256,
                                  std::int64_t now_ms) {
  auto put = again_if_unavailable([&] {
    return reader_->run(kPutDevice, {id, token_sha256, now_ms});
  });
  if (!put.ok()) return put.error().wrap("registering device");
  return Status::Ok();
}

Status SqlDeviceStore::put_devices(const std::vector<DeviceRegistration>& devices,
                                   std::int64_t now_ms) {
  return again_if_unavailable([&] {
    return sql::transaction(*reader_, "registering devices", [&]() -> Status {
      for (const DeviceRegistration& device : devices) {
        auto put = reader_->run(kPutDevice, {device.id, device.token_sha256, now_ms});
        if (!put.ok()) return put.error().wrap("registering " + device.id);
      }
      return Status::Ok();
    });
  });
}

Result<std::optional<std::string>> SqlDeviceStore::device_for_token(
    const std::string& token_sha256) {
  auto rows = again_if_unavailable([&] {
    return reader_->query("SELECT id FROM devices WHERE token_sha256 = $1", {token_sha256});
  });
  if (!rows.ok()) return rows.error().wrap("looking up a token");
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows->front().text(0));
}

Result<std::optional<DeviceRecord>> SqlDeviceStore::get(const std::string& id) {
  // Under the writer's lock for the whole read: the writer cannot retire its
  // in-flight batch between the snapshot this read sees and the overlay laid over it.
  return batches_.inspect(
      [&](const Batch& queued, const Batch& in_flight) -> Result<std::optional<DeviceRecord>> {
        static const std::string sql = std::string(kSelectDevice) + " WHERE id = $1";
        auto rows = again_if_unavailable([&] { return reader_->query(sql, {id}); });
        if (!rows.ok()) return rows.error().wrap("reading device");
        if (rows->empty()) return std::optional<DeviceRecord>();
        DeviceRecord record = read_row(rows->front());
        overlay(record, queued, in_flight);
        return std::optional<DeviceRecord>(std::move(record));
      });
}

Result<std::vector<DeviceRecord>> SqlDeviceStore::list() {
  return batches_.inspect(
      [&](const Batch& queued, const Batch& in_flight) -> Result<std::vector<DeviceRecord>> {
        static const std::string sql = std::string(kSelectDevice) + " ORDER BY id";
        auto rows = again_if_unavailable([&] { return reader_->query(sql); });
        if (!rows.ok()) return rows.error().wrap("listing devices");
        std::vector<DeviceRecord> out;
        out.reserve(rows->size());
        for (const sql::Row& row : *rows) {
          out.push_back(read_row(row));
          overlay(out.back(), queued, in_flight);
        }
        return out;
      });
}

}  // namespace tether::hub
