#include "hub/store/sqlite_monitoring_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <utility>

#include "hub/store/sqlite_db.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

namespace {

using sqlite::Stmt;

const char* kind_name(RecordKind kind) {
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

RecordKind kind_of(const std::string& s) {
  if (s == "alert") return RecordKind::kAlert;
  if (s == "dropped") return RecordKind::kDropped;
  return RecordKind::kData;
}

constexpr const char* kRecordColumns =
    "cursor, device, seq, ts, kind, stream, body, severity, alert_state, summary, received_ms";

StoredRecord read_record(const Stmt& s) {
  StoredRecord r;
  r.cursor = s.int64(0);
  r.device = s.text(1);
  r.record.seq = static_cast<std::uint64_t>(s.int64(2));
  r.record.ts = s.int64(3);
  r.record.kind = kind_of(s.text(4));
  r.record.stream = s.text(5);
  r.record.body_json = s.text(6);
  r.record.severity = s.text(7);
  r.record.alert_state = s.text(8);
  r.record.summary = s.text(9);
  r.received_ms = s.int64(10);
  return r;
}

constexpr std::int64_t kDayMs = 86400000;

}  // namespace

Result<std::unique_ptr<SqliteMonitoringStore>> SqliteMonitoringStore::open(
    const std::string& state_dir, const MonitoringRetention& retention) {
  // An ack promises the record is safe: every batch's commit is synced.
  auto conn = sqlite::open_store_file(
      state_dir, "monitoring.db",
      {
          // The indexes are keyed by device: with thousands of devices writing at
          // once a batch touches pages all over them, and SQLite's default 2 MB
          // page cache made the writer re-read pages (docs/performance.md
          // "Fleet size"). Up to 64 MB, used only as the database grows.
          "PRAGMA cache_size=-65536",
          "CREATE TABLE IF NOT EXISTS records ("
          " cursor INTEGER PRIMARY KEY AUTOINCREMENT,"
          " device TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,"
          " kind TEXT NOT NULL, stream TEXT NOT NULL, body TEXT NOT NULL,"
          " severity TEXT, alert_state TEXT, summary TEXT, received_ms INTEGER NOT NULL,"
          " UNIQUE(device, seq))",
          "CREATE INDEX IF NOT EXISTS records_by_stream ON records(device, kind, stream, ts)",
          "CREATE INDEX IF NOT EXISTS records_by_age ON records(received_ms)",
          "CREATE TABLE IF NOT EXISTS alert_state ("
          " device TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL, severity TEXT,"
          " summary TEXT, ts INTEGER, seq INTEGER, PRIMARY KEY(device, id))",
          "CREATE TABLE IF NOT EXISTS device_status ("
          " device TEXT PRIMARY KEY, state TEXT, version TEXT, boot_id TEXT,"
          " uptime_s INTEGER, inventory TEXT, at_ms INTEGER)",
          "CREATE TABLE IF NOT EXISTS presence ("
          " id INTEGER PRIMARY KEY, device TEXT NOT NULL, at_ms INTEGER NOT NULL,"
          " event TEXT NOT NULL, detail TEXT)",
          "CREATE INDEX IF NOT EXISTS presence_by_device ON presence(device, at_ms)",
      },
      "FULL");
  if (!conn.ok()) return conn.error();
  return std::unique_ptr<SqliteMonitoringStore>(
      new SqliteMonitoringStore(conn->reader, conn->writer, retention));
}

SqliteMonitoringStore::SqliteMonitoringStore(sqlite3* reader, sqlite3* writer,
                                             const MonitoringRetention& retention)
    : reader_(reader),
      writer_(writer),
      retention_(retention),
      batches_({.write = [this](std::deque<Op>& batch) { return write_batch(batch); },
                .complete =
                    [](std::deque<Op>& batch, const Status& written) {
                      for (Op& op : batch) {
                        if (auto* a = std::get_if<Append>(&op); a != nullptr && a->done) {
                          a->done(written);
                        }
                      }
                    },
                .tick_interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(retention.prune_interval_s)),
                .on_tick = [](std::deque<Op>& queued) { queued.push_back(Prune{now_ms()}); }}) {}

SqliteMonitoringStore::~SqliteMonitoringStore() {
  batches_.stop();
  insert_record_.reset();
  upsert_alert_.reset();
  sqlite3_close(writer_);
  sqlite3_close(reader_);
}

void SqliteMonitoringStore::enqueue(Op op) {
  batches_.queue([&op](std::deque<Op>& queued) { queued.push_back(std::move(op)); });
}

void SqliteMonitoringStore::append(const std::string& device, std::vector<MonitoringRecord> records,
                                   Committed done) {
  enqueue(Append{device, std::move(records), std::move(done)});
}

void SqliteMonitoringStore::record_status(const std::string& device,
                                          const DeviceStatusRecord& status) {
  enqueue(StatusWrite{device, status});
}

void SqliteMonitoringStore::record_presence(const std::string& device, const PresenceEvent& event) {
  enqueue(PresenceWrite{device, event});
}

Status SqliteMonitoringStore::prune_now(std::int64_t now) {
  enqueue(Prune{now});
  return flush();
}

Status SqliteMonitoringStore::write_batch(std::deque<Op>& batch) {
  return sqlite::transaction(writer_, "writing a monitoring batch", [&]() -> Status {
    for (Op& op : batch) {
      if (auto s = write_op(op); !s.ok()) return s;
    }
    return Status::Ok();
  });
}

Status SqliteMonitoringStore::write_op(Op& op) {
  if (auto* a = std::get_if<Append>(&op)) {
    const std::int64_t received = now_ms();
    Stmt& insert = sqlite::cached(
        insert_record_, writer_,
        "INSERT OR IGNORE INTO records(device, seq, ts, kind, stream, body, severity, "
        "alert_state, summary, received_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)");
    if (!insert.ok()) return insert.error("storing a record");
    for (const MonitoringRecord& r : a->records) {
      Stmt& s = insert;
      s.reset();
      s.bind(1, a->device);
      s.bind(2, static_cast<std::int64_t>(r.seq));
      s.bind(3, r.ts);
      s.bind(4, std::string(kind_name(r.kind)));
      s.bind(5, r.stream);
      s.bind(6, r.body_json);
      s.bind(7, r.severity);
      s.bind(8, r.alert_state);
      s.bind(9, r.summary);
      s.bind(10, received);
      if (s.step() != SQLITE_DONE) return s.error("storing a record");
      const bool stored = s.changes() > 0;
      if (stored && r.kind == RecordKind::kAlert) {
        // The newest record (by seq) of an alert id says whether it is open.
        Stmt& u =
            sqlite::cached(upsert_alert_, writer_,
                           "INSERT INTO alert_state(device, id, state, severity, summary, ts, seq) "
                           "VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(device, id) DO UPDATE SET "
                           "state = excluded.state, severity = excluded.severity, summary = "
                           "excluded.summary, ts = excluded.ts, seq = excluded.seq "
                           "WHERE excluded.seq > alert_state.seq");
        if (!u.ok()) return u.error("updating an alert");
        u.bind(1, a->device);
        u.bind(2, r.stream);
        u.bind(3, r.alert_state);
        u.bind(4, r.severity);
        u.bind(5, r.summary);
        u.bind(6, r.ts);
        u.bind(7, static_cast<std::int64_t>(r.seq));
        if (u.step() != SQLITE_DONE) return u.error("updating an alert");
      }
    }
    return Status::Ok();
  }
  if (auto* st = std::get_if<StatusWrite>(&op)) {
    Stmt s(writer_,
           "INSERT INTO device_status(device, state, version, boot_id, uptime_s, inventory, "
           "at_ms) VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(device) DO UPDATE SET "
           "state = excluded.state, version = excluded.version, boot_id = excluded.boot_id, "
           "uptime_s = excluded.uptime_s, inventory = excluded.inventory, at_ms = excluded.at_ms");
    s.bind(1, st->device);
    s.bind(2, st->status.state);
    s.bind(3, st->status.version);
    s.bind(4, st->status.boot_id);
    s.bind(5, st->status.uptime_s);
    s.bind(6, st->status.inventory_json);
    s.bind(7, st->status.at_ms);
    if (s.step() != SQLITE_DONE) return s.error("storing a status");
    return Status::Ok();
  }
  if (auto* p = std::get_if<PresenceWrite>(&op)) {
    Stmt s(writer_, "INSERT INTO presence(device, at_ms, event, detail) VALUES(?1,?2,?3,?4)");
    s.bind(1, p->device);
    s.bind(2, p->event.at_ms);
    s.bind(3, p->event.event);
    s.bind(4, p->event.detail);
    if (s.step() != SQLITE_DONE) return s.error("storing presence");
    return Status::Ok();
  }
  return prune(std::get<Prune>(op).now_ms);
}

Status SqliteMonitoringStore::prune(std::int64_t now) {
  const auto cutoff = now - static_cast<std::int64_t>(retention_.retention_days * kDayMs);
  for (const char* sql :
       {"DELETE FROM records WHERE received_ms < ?1", "DELETE FROM presence WHERE at_ms < ?1"}) {
    Stmt s(writer_, sql);
    s.bind(1, cutoff);
    if (s.step() != SQLITE_DONE) return s.error("pruning");
  }
  // Streams over their cap lose their oldest records.
  struct Over {
    std::string device, kind, stream;
    std::int64_t excess;
  };
  std::vector<Over> over;
  {
    Stmt s(writer_,
           "SELECT device, kind, stream, COUNT(*) FROM records GROUP BY device, kind, stream "
           "HAVING COUNT(*) > ?1");
    s.bind(1, retention_.max_records_per_stream);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      over.push_back(
          {s.text(0), s.text(1), s.text(2), s.int64(3) - retention_.max_records_per_stream});
    }
    if (rc != SQLITE_DONE) return s.error("pruning");
  }
  for (const Over& o : over) {
    Stmt s(writer_,
           "DELETE FROM records WHERE cursor IN (SELECT cursor FROM records WHERE device = ?1 "
           "AND kind = ?2 AND stream = ?3 ORDER BY seq LIMIT ?4)");
    s.bind(1, o.device);
    s.bind(2, o.kind);
    s.bind(3, o.stream);
    s.bind(4, o.excess);
    if (s.step() != SQLITE_DONE) return s.error("pruning");
  }
  return Status::Ok();
}

Status SqliteMonitoringStore::flush() {
  return batches_.flush();
}

std::uint64_t SqliteMonitoringStore::batches_written() const {
  return batches_.batches_written();
}

Result<std::vector<StoredRecord>> SqliteMonitoringStore::query_records(const char* sql,
                                                                       const std::string& device,
                                                                       std::int64_t a,
                                                                       std::int64_t b) {
  Stmt s(reader_, sql);
  if (!s.ok()) return s.error("reading records");
  s.bind(1, device);
  s.bind(2, a);
  s.bind(3, b);
  std::vector<StoredRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_record(s));
  if (rc != SQLITE_DONE) return s.error("reading records");
  return out;
}

Result<std::vector<StoredRecord>> SqliteMonitoringStore::latest_per_stream(
    const std::string& device) {
  // SQLite takes the bare columns from the row holding MAX(seq).
  const std::string sql =
      "SELECT cursor, device, MAX(seq), ts, kind, stream, body, severity, alert_state, summary, "
      "received_ms FROM records WHERE device = ?1 AND kind = 'data' AND ?2 = ?3 "
      "GROUP BY stream ORDER BY stream";
  return query_records(sql.c_str(), device, 0, 0);
}

Result<std::vector<StoredRecord>> SqliteMonitoringStore::records_after(const std::string& device,
                                                                       std::int64_t cursor,
                                                                       std::size_t limit) {
  const std::string sql =
      std::string("SELECT ") + kRecordColumns +
      " FROM records WHERE device = ?1 AND cursor > ?2 ORDER BY cursor LIMIT ?3";
  return query_records(sql.c_str(), device, cursor, static_cast<std::int64_t>(limit));
}

Result<std::vector<StoredRecord>> SqliteMonitoringStore::alert_history(const std::string& device,
                                                                       std::size_t limit) {
  const std::string sql = std::string("SELECT ") + kRecordColumns +
                          " FROM records WHERE device = ?1 AND kind = 'alert' AND ?2 = 0 "
                          "ORDER BY seq DESC LIMIT ?3";
  return query_records(sql.c_str(), device, 0, static_cast<std::int64_t>(limit));
}

Result<std::vector<OpenAlert>> SqliteMonitoringStore::open_alerts(const std::string& device) {
  Stmt s(reader_,
         "SELECT id, severity, summary, ts, seq FROM alert_state WHERE device = ?1 AND "
         "state = 'raised' ORDER BY ts DESC");
  if (!s.ok()) return s.error("reading alerts");
  s.bind(1, device);
  std::vector<OpenAlert> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(
        {s.text(0), s.text(1), s.text(2), s.int64(3), static_cast<std::uint64_t>(s.int64(4))});
  }
  if (rc != SQLITE_DONE) return s.error("reading alerts");
  return out;
}

Result<std::vector<std::pair<std::string, std::size_t>>>
SqliteMonitoringStore::open_alert_counts() {
  Stmt s(reader_,
         "SELECT device, COUNT(*) FROM alert_state WHERE state = 'raised' GROUP BY device");
  if (!s.ok()) return s.error("counting alerts");
  std::vector<std::pair<std::string, std::size_t>> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.emplace_back(s.text(0), static_cast<std::size_t>(s.int64(1)));
  }
  if (rc != SQLITE_DONE) return s.error("counting alerts");
  return out;
}

Result<std::optional<DeviceStatusRecord>> SqliteMonitoringStore::status(const std::string& device) {
  Stmt s(reader_,
         "SELECT state, version, boot_id, uptime_s, inventory, at_ms FROM device_status "
         "WHERE device = ?1");
  if (!s.ok()) return s.error("reading status");
  s.bind(1, device);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<DeviceStatusRecord>();
  if (rc != SQLITE_ROW) return s.error("reading status");
  DeviceStatusRecord r{s.text(0), s.text(1), s.text(2), s.int64(3), s.text(4), s.int64(5)};
  return std::optional<DeviceStatusRecord>(std::move(r));
}

Result<std::vector<PresenceEvent>> SqliteMonitoringStore::presence(const std::string& device,
                                                                   std::size_t limit) {
  Stmt s(reader_,
         "SELECT at_ms, event, detail FROM presence WHERE device = ?1 "
         "ORDER BY at_ms DESC, id DESC LIMIT ?2");
  if (!s.ok()) return s.error("reading presence");
  s.bind(1, device);
  s.bind(2, static_cast<std::int64_t>(limit));
  std::vector<PresenceEvent> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back({s.int64(0), s.text(1), s.text(2)});
  if (rc != SQLITE_DONE) return s.error("reading presence");
  return out;
}

Result<std::vector<SeriesPoint>> SqliteMonitoringStore::series(const SeriesQuery& q) {
  const std::int64_t span = std::max<std::int64_t>(1, q.to_ms - q.from_ms + 1);
  const auto points = static_cast<std::int64_t>(std::max<std::size_t>(1, q.max_points));
  const std::int64_t bucket = std::max<std::int64_t>(1, (span + points - 1) / points);
  Stmt s(reader_,
         "SELECT MIN(ts), AVG(v), MIN(v), MAX(v), COUNT(*) FROM ("
         " SELECT ts, json_extract(body, ?5) AS v FROM records"
         " WHERE device = ?1 AND kind = 'data' AND stream = ?2 AND ts >= ?3 AND ts <= ?4)"
         " WHERE typeof(v) IN ('integer', 'real') GROUP BY (ts - ?3) / ?6 ORDER BY 1");
  if (!s.ok()) return s.error("reading a series");
  s.bind(1, q.device);
  s.bind(2, q.stream);
  s.bind(3, q.from_ms);
  s.bind(4, q.to_ms);
  s.bind(5, "$.\"" + q.field + "\"");
  s.bind(6, bucket);
  std::vector<SeriesPoint> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back({s.int64(0), s.real(1), s.real(2), s.real(3), s.int64(4)});
  }
  if (rc != SQLITE_DONE) return s.error("reading a series");
  return out;
}

Result<std::int64_t> SqliteMonitoringStore::count(const std::string& device) {
  Stmt s(reader_, "SELECT COUNT(*) FROM records WHERE device = ?1");
  if (!s.ok()) return s.error("counting records");
  s.bind(1, device);
  if (s.step() != SQLITE_ROW) return s.error("counting records");
  return s.int64(0);
}

Result<std::int64_t> SqliteMonitoringStore::last_cursor(const std::string& device) {
  Stmt s(reader_, "SELECT COALESCE(MAX(cursor), 0) FROM records WHERE device = ?1");
  if (!s.ok()) return s.error("reading the cursor");
  s.bind(1, device);
  if (s.step() != SQLITE_ROW) return s.error("reading the cursor");
  return s.int64(0);
}

}  // namespace tether::hub
