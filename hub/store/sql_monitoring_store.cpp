#include "hub/store/sql_monitoring_store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <utility>

#include "hub/store/again_if_unavailable.hpp"
#include "hub/store/sql_store_connections.hpp"
#include "hub/store/storable_text.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

namespace {

RecordKind kind_of(const std::string& s) {
  if (s == "alert") return RecordKind::kAlert;
  if (s == "dropped") return RecordKind::kDropped;
  return RecordKind::kData;
}

constexpr const char* kRecordColumns =
    "cursor, device, seq, ts, kind, stream, body, severity, alert_state, summary, received_ms";

StoredRecord read_record(const sql::Row& s) {
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

// A commit at most once a second while records keep coming. Both record indexes
// are keyed by device, so a commit writes about a page per device that sent
// anything: committing as often as the disk allowed wrote ~1.4 pages per record
// with 10 000 devices at 5 records/s each, a second's worth per commit writes
// ~0.3 (docs/performance.md, "Fleet size"). Devices hear an ack about once a
// second anyway (MonitoringIntake), and a record that comes alone is committed
// at once.
constexpr std::chrono::milliseconds kCommitGap{1000};

// Rows per multi-row INSERT: one statement (one round trip to PostgreSQL) stores
// 64 records, what is left over 8 at a time, the last few one by one. (On
// PostgreSQL this stores ~3.5x as many records a second as one row per
// statement; on SQLite it costs nothing: bench/hub_monitoring_floor.cpp.)
constexpr std::array<std::size_t, 2> kRowsPerInsert = {64, 8};

// What a row binds. $1 is the batch's received_ms, shared by every row. A data or
// dropped record binds 6 more and leaves the alert-only columns NULL; a statement
// that holds an alert binds its 3 alert columns as well, through NULLIF so that
// the data rows next to it store NULL too (and an alert's empty summary reads
// back as "", as NULL does). Fewer parameters are fewer binds and value copies
// per record, the writer's hot path.
enum class RowShape { kData, kWithAlerts };
constexpr std::size_t kSharedParams = 1;
constexpr std::size_t kDataParams = 6;   // device, seq, ts, kind, stream, body
constexpr std::size_t kAlertParams = 3;  // severity, alert_state, summary

constexpr std::size_t params_per_row(RowShape shape) {
  return kDataParams + (shape == RowShape::kWithAlerts ? kAlertParams : 0);
}

// "INSERT ... VALUES ($1,$2,..,$7),($1,$8,..,$13),... ON CONFLICT ..." for `rows`
// rows of `shape`.
std::string insert_sql(std::size_t rows, RowShape shape, bool returning) {
  std::string sql = shape == RowShape::kData
                        ? "INSERT INTO records(received_ms, device, seq, ts, kind, stream, body) "
                          "VALUES "
                        : "INSERT INTO records(received_ms, device, seq, ts, kind, stream, body, "
                          "severity, alert_state, summary) VALUES ";
  std::size_t n = kSharedParams;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "($1" : ",($1";
    for (std::size_t c = 0; c < kDataParams; ++c) sql += ",$" + std::to_string(++n);
    if (shape == RowShape::kWithAlerts) {
      for (std::size_t c = 0; c < kAlertParams; ++c) {
        sql += ",NULLIF($" + std::to_string(++n) + ",'')";
      }
    }
    sql += ')';
  }
  sql += " ON CONFLICT (device, seq) DO NOTHING";
  if (returning) sql += " RETURNING device, seq";
  return sql;
}

// Version 1 is the schema monitoring.db has always had (CREATE ... IF NOT EXISTS),
// so an existing state directory opens unchanged. PostgreSQL's presence ids need
// an identity column where SQLite's INTEGER PRIMARY KEY is the rowid.
std::vector<sql::Migration> migrations(sql::Dialect dialect) {
  constexpr const char* kRecords =
      "CREATE TABLE IF NOT EXISTS records ("
      " cursor AUTO_ID,"
      " device TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,"
      " kind TEXT NOT NULL, stream TEXT NOT NULL, body TEXT NOT NULL,"
      " severity TEXT, alert_state TEXT, summary TEXT, received_ms INTEGER NOT NULL,"
      " UNIQUE(device, seq))";
  constexpr const char* kAlertState =
      "CREATE TABLE IF NOT EXISTS alert_state ("
      " device TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL, severity TEXT,"
      " summary TEXT, ts INTEGER, seq INTEGER, PRIMARY KEY(device, id))";
  constexpr const char* kDeviceStatus =
      "CREATE TABLE IF NOT EXISTS device_status ("
      " device TEXT PRIMARY KEY, state TEXT, version TEXT, boot_id TEXT,"
      " uptime_s INTEGER, inventory TEXT, at_ms INTEGER)";
  const std::string presence =
      std::string("CREATE TABLE IF NOT EXISTS presence (") +
      (dialect == sql::Dialect::kSqlite ? "id INTEGER PRIMARY KEY" : "id AUTO_ID") +
      ", device TEXT NOT NULL, at_ms INTEGER NOT NULL, event TEXT NOT NULL, detail TEXT)";
  return {{1,
           {
               kRecords,
               "CREATE INDEX IF NOT EXISTS records_by_stream ON records(device, kind, stream, ts)",
               "CREATE INDEX IF NOT EXISTS records_by_age ON records(received_ms)",
               kAlertState,
               kDeviceStatus,
               presence,
               "CREATE INDEX IF NOT EXISTS presence_by_device ON presence(device, at_ms)",
           }},
          // Every insert kept this index too, for one prune an hour: pruning by age
          // now walks the records in cursor order instead (see prune()).
          {2, {"DROP INDEX IF EXISTS records_by_age"}}};
}

}  // namespace

Result<std::unique_ptr<SqlMonitoringStore>> SqlMonitoringStore::open(
    const sql::StoreUrl& url, const MonitoringRetention& retention) {
  // An ack promises the record is safe: every batch's commit is synced.
  auto conn = open_store_connections(url, "monitoring",
                                     {.sqlite_file = "monitoring.db", .synchronous = "FULL"},
                                     migrations(url.dialect));
  if (!conn.ok()) return conn.error();
  if (url.dialect == sql::Dialect::kSqlite) {
    // The indexes are keyed by device: with thousands of devices writing at once a
    // batch touches pages all over them, and SQLite's default 2 MB page cache made
    // the writer re-read pages (docs/performance.md "Fleet size"). Up to 64 MB,
    // used only as the database grows. For the same reason one commit can put
    // thousands of pages in the WAL: at the default checkpoint size (1 000 pages)
    // every commit was followed by a checkpoint that copied each page again; at
    // 16 384 pages (64 MB of WAL) a hot page is copied once for several commits.
    if (auto s = conn->writer->exec(
            "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=16384");
        !s.ok()) {
      return s.error().wrap("opening the monitoring store at " + url.redacted);
    }
  }
  return std::unique_ptr<SqlMonitoringStore>(
      new SqlMonitoringStore(std::move(conn->reader), std::move(conn->writer), retention));
}

SqlMonitoringStore::SqlMonitoringStore(std::unique_ptr<sql::Connection> reader,
                                       std::unique_ptr<sql::Connection> writer,
                                       const MonitoringRetention& retention)
    : reader_(std::move(reader)),
      writer_(std::move(writer)),
      retention_(retention),
      insert_data_sql_{insert_sql(kRowsPerInsert[0], RowShape::kData, false),
                       insert_sql(kRowsPerInsert[1], RowShape::kData, false),
                       insert_sql(1, RowShape::kData, false)},
      insert_alerts_sql_{insert_sql(kRowsPerInsert[0], RowShape::kWithAlerts, true),
                         insert_sql(kRowsPerInsert[1], RowShape::kWithAlerts, true),
                         insert_sql(1, RowShape::kWithAlerts, false)},
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
                .on_tick = [](std::deque<Op>& queued) { queued.push_back(Prune{now_ms()}); },
                .min_gap = kCommitGap}) {
  params_.reserve(kSharedParams + kRowsPerInsert[0] * params_per_row(RowShape::kWithAlerts));
}

SqlMonitoringStore::~SqlMonitoringStore() {
  batches_.stop();
}

void SqlMonitoringStore::enqueue(Op op) {
  batches_.queue([&op](std::deque<Op>& queued) { queued.push_back(std::move(op)); });
}

void SqlMonitoringStore::append(const std::string& device, std::vector<MonitoringRecord> records,
                                Committed done) {
  for (MonitoringRecord& r : records) {
    for (std::string* text : {&r.stream, &r.body_json, &r.severity, &r.alert_state, &r.summary}) {
      make_storable(*text);
    }
  }
  enqueue(Append{device, std::move(records), std::move(done)});
}

void SqlMonitoringStore::record_status(const std::string& device,
                                       const DeviceStatusRecord& status) {
  StatusWrite write{device, status};
  for (std::string* text : {&write.status.state, &write.status.version, &write.status.boot_id,
                            &write.status.inventory_json}) {
    make_storable(*text);
  }
  enqueue(std::move(write));
}

void SqlMonitoringStore::record_presence(const std::string& device, const PresenceEvent& event) {
  PresenceWrite write{device, event};
  make_storable(write.event.event);
  make_storable(write.event.detail);
  enqueue(std::move(write));
}

Status SqlMonitoringStore::prune_now(std::int64_t now) {
  enqueue(Prune{now});
  return flush();
}

Status SqlMonitoringStore::write_batch(std::deque<Op>& batch) {
  // A batch that met a dropped PostgreSQL connection was rolled back: run once
  // more (records are kept once per (device, seq), alerts move by seq).
  return again_if_unavailable([&] {
    return sql::transaction(*writer_, "writing a monitoring batch", [&]() -> Status {
      // Records of consecutive appends go in together; any other operation first
      // writes the records queued before it, so the batch keeps its order.
      const std::int64_t received = now_ms();
      pending_.clear();
      for (Op& op : batch) {
        if (auto* a = std::get_if<Append>(&op)) {
          for (const MonitoringRecord& r : a->records) pending_.push_back({&a->device, &r});
          continue;
        }
        if (auto s = insert_records(pending_, received); !s.ok()) return s;
        pending_.clear();
        if (auto s = write_op(op); !s.ok()) return s;
      }
      auto inserted = insert_records(pending_, received);
      pending_.clear();
      return inserted;
    });
  });
}

Status SqlMonitoringStore::insert_records(const std::vector<PendingRecord>& pending,
                                          std::int64_t received) {
  auto bind_chunk = [&](auto begin, auto end, RowShape shape) {
    params_.clear();
    params_.emplace_back(received);
    for (auto it = begin; it != end; ++it) {
      const MonitoringRecord& r = *it->record;
      params_.emplace_back(*it->device);
      params_.emplace_back(static_cast<std::int64_t>(r.seq));
      params_.emplace_back(r.ts);
      params_.emplace_back(record_kind_name(r.kind));
      params_.emplace_back(r.stream);
      params_.emplace_back(r.body_json);
      if (shape == RowShape::kWithAlerts) {
        params_.emplace_back(r.severity);
        params_.emplace_back(r.alert_state);
        params_.emplace_back(r.summary);
      }
    }
  };
  auto is_alert = [](const PendingRecord& p) { return p.record->kind == RecordKind::kAlert; };
  std::size_t i = 0;
  for (std::size_t size_index = 0; size_index < kRowsPerInsert.size(); ++size_index) {
    const std::size_t rows = kRowsPerInsert[size_index];
    for (; i + rows <= pending.size(); i += rows) {
      const auto chunk_begin = pending.begin() + static_cast<std::ptrdiff_t>(i);
      const auto chunk_end = chunk_begin + static_cast<std::ptrdiff_t>(rows);
      if (std::none_of(chunk_begin, chunk_end, is_alert)) {
        bind_chunk(chunk_begin, chunk_end, RowShape::kData);
        auto stored = writer_->run(insert_data_sql_[size_index], params_);
        if (!stored.ok()) return stored.error().wrap("storing records");
        continue;
      }
      // Which alert records were new: the RETURNING rows name them (a record whose
      // (device, seq) was already stored returns nothing).
      bind_chunk(chunk_begin, chunk_end, RowShape::kWithAlerts);
      auto stored = writer_->query(insert_alerts_sql_[size_index], params_);
      if (!stored.ok()) return stored.error().wrap("storing records");
      std::vector<bool> is_new(rows, false);
      for (const sql::Row& row : *stored) {
        const std::string device = row.text(0);
        const auto seq = static_cast<std::uint64_t>(row.int64(1));
        for (std::size_t k = 0; k < rows; ++k) {
          const PendingRecord& p = *(chunk_begin + static_cast<std::ptrdiff_t>(k));
          if (!is_new[k] && p.record->seq == seq && *p.device == device) {
            is_new[k] = true;
            break;
          }
        }
      }
      for (std::size_t k = 0; k < rows; ++k) {
        const PendingRecord& p = *(chunk_begin + static_cast<std::ptrdiff_t>(k));
        if (is_new[k] && is_alert(p)) {
          if (auto s = update_alert(p); !s.ok()) return s;
        }
      }
    }
  }
  // The rest, one row per statement (fewer than the smallest multi-row size).
  for (; i < pending.size(); ++i) {
    const auto one = pending.begin() + static_cast<std::ptrdiff_t>(i);
    const bool alert = is_alert(*one);
    bind_chunk(one, one + 1, alert ? RowShape::kWithAlerts : RowShape::kData);
    auto stored =
        writer_->run(alert ? insert_alerts_sql_.back() : insert_data_sql_.back(), params_);
    if (!stored.ok()) return stored.error().wrap("storing a record");
    if (*stored > 0 && alert) {
      if (auto s = update_alert(*one); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status SqlMonitoringStore::update_alert(const PendingRecord& stored) {
  // The newest record (by seq) of an alert id says whether it is open.
  const MonitoringRecord& r = *stored.record;
  auto updated = writer_->run(
      "INSERT INTO alert_state(device, id, state, severity, summary, ts, seq) "
      "VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(device, id) DO UPDATE SET "
      "state = excluded.state, severity = excluded.severity, summary = excluded.summary, "
      "ts = excluded.ts, seq = excluded.seq WHERE excluded.seq > alert_state.seq",
      {*stored.device, r.stream, r.alert_state, r.severity, r.summary, r.ts,
       static_cast<std::int64_t>(r.seq)});
  if (!updated.ok()) return updated.error().wrap("updating an alert");
  return Status::Ok();
}

Status SqlMonitoringStore::write_op(Op& op) {
  if (auto* st = std::get_if<StatusWrite>(&op)) {
    const DeviceStatusRecord& status = st->status;
    auto written = writer_->run(
        "INSERT INTO device_status(device, state, version, boot_id, uptime_s, inventory, at_ms) "
        "VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(device) DO UPDATE SET "
        "state = excluded.state, version = excluded.version, boot_id = excluded.boot_id, "
        "uptime_s = excluded.uptime_s, inventory = excluded.inventory, at_ms = excluded.at_ms",
        {st->device, status.state, status.version, status.boot_id, status.uptime_s,
         status.inventory_json, status.at_ms});
    if (!written.ok()) return written.error().wrap("storing a status");
    return Status::Ok();
  }
  if (auto* p = std::get_if<PresenceWrite>(&op)) {
    auto written =
        writer_->run("INSERT INTO presence(device, at_ms, event, detail) VALUES($1, $2, $3, $4)",
                     {p->device, p->event.at_ms, p->event.event, p->event.detail});
    if (!written.ok()) return written.error().wrap("storing presence");
    return Status::Ok();
  }
  if (auto* prune_op = std::get_if<Prune>(&op)) return prune(prune_op->now_ms);
  return Status::Ok();  // appends are written by write_batch
}

Status SqlMonitoringStore::prune(std::int64_t now) {
  const auto cutoff = now - static_cast<std::int64_t>(retention_.retention_days * kDayMs);
  // Records by age without an index on received_ms: records are received in
  // cursor order, so everything before the first record young enough to keep goes
  // (found by walking the oldest cursors, which are the rows being deleted anyway).
  // Should the clock have stepped back, a record older than one kept before it
  // waits for the next prune after that one.
  if (auto deleted = writer_->run(
          "DELETE FROM records WHERE cursor < COALESCE((SELECT cursor FROM records WHERE "
          "received_ms >= $1 ORDER BY cursor LIMIT 1), $2)",
          {cutoff, std::numeric_limits<std::int64_t>::max()});
      !deleted.ok()) {
    return deleted.error().wrap("pruning");
  }
  if (auto deleted = writer_->run("DELETE FROM presence WHERE at_ms < $1", {cutoff});
      !deleted.ok()) {
    return deleted.error().wrap("pruning");
  }
  // Streams over their cap lose their oldest records.
  auto over = writer_->query(
      "SELECT device, kind, stream, COUNT(*) FROM records GROUP BY device, kind, stream "
      "HAVING COUNT(*) > $1",
      {retention_.max_records_per_stream});
  if (!over.ok()) return over.error().wrap("pruning");
  for (const sql::Row& o : *over) {
    const std::string device = o.text(0);
    const std::string kind = o.text(1);
    const std::string stream = o.text(2);
    auto deleted = writer_->run(
        "DELETE FROM records WHERE cursor IN (SELECT cursor FROM records WHERE device = $1 "
        "AND kind = $2 AND stream = $3 ORDER BY seq LIMIT $4)",
        {device, kind, stream, o.int64(3) - retention_.max_records_per_stream});
    if (!deleted.ok()) return deleted.error().wrap("pruning");
  }
  return Status::Ok();
}

Status SqlMonitoringStore::flush() {
  return batches_.flush();
}

std::uint64_t SqlMonitoringStore::batches_written() const {
  return batches_.batches_written();
}

namespace {

Result<std::vector<StoredRecord>> read_records(Result<sql::Rows> rows) {
  if (!rows.ok()) return rows.error().wrap("reading records");
  std::vector<StoredRecord> out;
  out.reserve(rows->size());
  for (const sql::Row& row : *rows) out.push_back(read_record(row));
  return out;
}

}  // namespace

Result<std::vector<StoredRecord>> SqlMonitoringStore::latest_per_stream(const std::string& device) {
  // The newest record (by seq) of each data stream. SQLite takes the bare columns
  // from the row holding MAX(seq); PostgreSQL has DISTINCT ON.
  if (reader_->dialect() == sql::Dialect::kSqlite) {
    return read_records(again_if_unavailable([&] {
      return reader_->query(
          "SELECT cursor, device, MAX(seq), ts, kind, stream, body, severity, alert_state, "
          "summary, "
          "received_ms FROM records WHERE device = $1 AND kind = 'data' "
          "GROUP BY stream ORDER BY stream",
          {device});
    }));
  }
  return read_records(again_if_unavailable([&] {
    return reader_->query(std::string("SELECT DISTINCT ON (stream) ") + kRecordColumns +
                              " FROM records WHERE device = $1 AND kind = 'data' "
                              "ORDER BY stream, seq DESC",
                          {device});
  }));
}

Result<std::vector<StoredRecord>> SqlMonitoringStore::records_after(const std::string& device,
                                                                    std::int64_t cursor,
                                                                    std::size_t limit) {
  static const std::string sql =
      std::string("SELECT ") + kRecordColumns +
      " FROM records WHERE device = $1 AND cursor > $2 ORDER BY cursor LIMIT $3";
  return read_records(again_if_unavailable([&] {
    return reader_->query(sql, {device, cursor, limit});
  }));
}

Result<std::vector<StoredRecord>> SqlMonitoringStore::alert_history(const std::string& device,
                                                                    std::size_t limit) {
  static const std::string sql = std::string("SELECT ") + kRecordColumns +
                                 " FROM records WHERE device = $1 AND kind = 'alert' "
                                 "ORDER BY seq DESC LIMIT $2";
  return read_records(again_if_unavailable([&] { return reader_->query(sql, {device, limit}); }));
}

Result<std::vector<OpenAlert>> SqlMonitoringStore::open_alerts(const std::string& device) {
  auto rows = again_if_unavailable([&] {
    return reader_->query(
        "SELECT id, severity, summary, ts, seq FROM alert_state WHERE device = $1 AND "
        "state = 'raised' ORDER BY ts DESC",
        {device});
  });
  if (!rows.ok()) return rows.error().wrap("reading alerts");
  std::vector<OpenAlert> out;
  out.reserve(rows->size());
  for (const sql::Row& s : *rows) {
    out.push_back(
        {s.text(0), s.text(1), s.text(2), s.int64(3), static_cast<std::uint64_t>(s.int64(4))});
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::size_t>>> SqlMonitoringStore::open_alert_counts() {
  auto rows = again_if_unavailable([&] {
    return reader_->query(
        "SELECT device, COUNT(*) FROM alert_state WHERE state = 'raised' GROUP BY device "
        "ORDER BY device");
  });
  if (!rows.ok()) return rows.error().wrap("counting alerts");
  std::vector<std::pair<std::string, std::size_t>> out;
  out.reserve(rows->size());
  for (const sql::Row& s : *rows) {
    out.emplace_back(s.text(0), static_cast<std::size_t>(s.int64(1)));
  }
  return out;
}

Result<std::optional<DeviceStatusRecord>> SqlMonitoringStore::status(const std::string& device) {
  auto rows = again_if_unavailable([&] {
    return reader_->query(
        "SELECT state, version, boot_id, uptime_s, inventory, at_ms FROM device_status "
        "WHERE device = $1",
        {device});
  });
  if (!rows.ok()) return rows.error().wrap("reading status");
  if (rows->empty()) return std::optional<DeviceStatusRecord>();
  const sql::Row& s = rows->front();
  return std::optional<DeviceStatusRecord>(
      DeviceStatusRecord{s.text(0), s.text(1), s.text(2), s.int64(3), s.text(4), s.int64(5)});
}

Result<std::vector<PresenceEvent>> SqlMonitoringStore::presence(const std::string& device,
                                                                std::size_t limit) {
  auto rows = again_if_unavailable([&] {
    return reader_->query(
        "SELECT at_ms, event, detail FROM presence WHERE device = $1 "
        "ORDER BY at_ms DESC, id DESC LIMIT $2",
        {device, limit});
  });
  if (!rows.ok()) return rows.error().wrap("reading presence");
  std::vector<PresenceEvent> out;
  out.reserve(rows->size());
  for (const sql::Row& s : *rows) out.push_back({s.int64(0), s.text(1), s.text(2)});
  return out;
}

Result<std::vector<SeriesPoint>> SqlMonitoringStore::series(const SeriesQuery& q) {
  const std::int64_t span = std::max<std::int64_t>(1, q.to_ms - q.from_ms + 1);
  const auto points = static_cast<std::int64_t>(std::max<std::size_t>(1, q.max_points));
  const std::int64_t bucket = std::max<std::int64_t>(1, (span + points - 1) / points);
  // The field's numeric values only: SQLite's json_extract with a type check,
  // PostgreSQL's jsonb operators with jsonb_typeof. $5 is the JSON path (SQLite)
  // or the key (PostgreSQL). jsonb refuses a \u0000 escape (a device's string
  // value holding a NUL): such a record is left out rather than failing the query
  // (CASE tests in order).
  const bool sqlite = reader_->dialect() == sql::Dialect::kSqlite;
  const char* value_sql = sqlite
                              ? "SELECT ts, json_extract(body, $5) AS v FROM records"
                              : "SELECT ts, CASE WHEN strpos(body, '\\u0000') > 0 THEN NULL "
                                "WHEN jsonb_typeof(body::jsonb -> $5) = 'number' "
                                "THEN (body::jsonb ->> $5)::DOUBLE PRECISION END AS v FROM records";
  const char* numeric = sqlite ? "typeof(v) IN ('integer', 'real')" : "v IS NOT NULL";
  const std::string sql = std::string("SELECT MIN(ts), AVG(v), MIN(v), MAX(v), COUNT(*) FROM (") +
                          value_sql +
                          " WHERE device = $1 AND kind = 'data' AND stream = $2 AND ts >= $3 "
                          "AND ts <= $4) AS field_values WHERE " +
                          numeric + " GROUP BY (ts - $3) / $6 ORDER BY 1";
  const std::string path = sqlite ? "$.\"" + q.field + "\"" : q.field;
  auto rows = again_if_unavailable([&] {
    return reader_->query(sql, {q.device, q.stream, q.from_ms, q.to_ms, path, bucket});
  });
  if (!rows.ok()) return rows.error().wrap("reading a series");
  std::vector<SeriesPoint> out;
  out.reserve(rows->size());
  for (const sql::Row& s : *rows) {
    out.push_back({s.int64(0), s.real(1), s.real(2), s.real(3), s.int64(4)});
  }
  return out;
}

Result<std::int64_t> SqlMonitoringStore::count(const std::string& device) {
  auto rows = again_if_unavailable(
      [&] { return reader_->query("SELECT COUNT(*) FROM records WHERE device = $1", {device}); });
  if (!rows.ok()) return rows.error().wrap("counting records");
  if (rows->empty()) return Error(ErrorCode::kStorageFailure, "counting records: no row");
  return rows->front().int64(0);
}

Result<std::int64_t> SqlMonitoringStore::last_cursor(const std::string& device) {
  auto rows = again_if_unavailable([&] {
    return reader_->query("SELECT COALESCE(MAX(cursor), 0) FROM records WHERE device = $1",
                          {device});
  });
  if (!rows.ok()) return rows.error().wrap("reading the cursor");
  if (rows->empty()) return Error(ErrorCode::kStorageFailure, "reading the cursor: no row");
  return rows->front().int64(0);
}

}  // namespace tether::hub
