#include "hub/store/sqlite_config_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hub/store/sqlite_db.hpp"

namespace tether::hub {

std::string_view config_state_name(ConfigState state) {
  switch (state) {
    case ConfigState::kPending:
      return "pending";
    case ConfigState::kApplied:
      return "applied";
    case ConfigState::kError:
      return "error";
    case ConfigState::kSuperseded:
      return "superseded";
  }
  return "pending";
}

std::optional<ConfigState> parse_config_state(std::string_view name) {
  for (ConfigState s : {ConfigState::kPending, ConfigState::kApplied, ConfigState::kError,
                        ConfigState::kSuperseded}) {
    if (config_state_name(s) == name) return s;
  }
  return std::nullopt;
}

namespace {

using sqlite::Stmt;

// Versions are stored as SQLite's int64; the service never pushes one above
// INT64_MAX, and a device-reported one round-trips its bits.
std::int64_t to_db(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
std::uint64_t from_db(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

constexpr const char* kVersionColumns =
    "version, document, mode, pushed_by, pushed_ms, state, reason, answered_ms";

ConfigVersion read_version(const Stmt& s) {
  ConfigVersion v;
  v.version = from_db(s.int64(0));
  v.document_json = s.text(1);
  v.mode = s.text(2);
  v.pushed_by = s.text(3);
  v.pushed_ms = s.int64(4);
  v.state = parse_config_state(s.text(5)).value_or(ConfigState::kPending);
  v.reason = s.text(6);
  v.answered_ms = s.int64(7);
  return v;
}

}  // namespace

Result<std::unique_ptr<SqliteConfigStore>> SqliteConfigStore::open(const std::string& state_dir) {
  // A version is sent to the device only once it is committed: sync each commit.
  auto conn = sqlite::open_store_file(
      state_dir, "config.db",
      {
          "CREATE TABLE IF NOT EXISTS config_versions ("
          " device TEXT NOT NULL, version INTEGER NOT NULL, document TEXT NOT NULL,"
          " mode TEXT NOT NULL, pushed_by TEXT NOT NULL, pushed_ms INTEGER NOT NULL,"
          " state TEXT NOT NULL, reason TEXT NOT NULL, answered_ms INTEGER NOT NULL,"
          " PRIMARY KEY(device, version))",
          "CREATE TABLE IF NOT EXISTS config_reported ("
          " device TEXT PRIMARY KEY, version INTEGER NOT NULL, vals TEXT NOT NULL,"
          " at_ms INTEGER NOT NULL)",
      },
      "FULL");
  if (!conn.ok()) return conn.error();
  return std::unique_ptr<SqliteConfigStore>(new SqliteConfigStore(conn->reader, conn->writer));
}

SqliteConfigStore::SqliteConfigStore(sqlite3* reader, sqlite3* writer)
    : reader_(reader),
      writer_(writer),
      batches_({.write = [this](std::deque<Op>& batch) { return write_batch(batch); },
                .complete =
                    [](std::deque<Op>& batch, const Status& written) {
                      for (Op& op : batch) {
                        if (auto* v = std::get_if<VersionWrite>(&op.write); v && v->done) {
                          v->done(written);
                        }
                      }
                    },
                .settle = [this](std::deque<Op>& batch) { settle(batch); }}) {}

SqliteConfigStore::~SqliteConfigStore() {
  batches_.stop();
  sqlite3_close(writer_);
  sqlite3_close(reader_);
}

void SqliteConfigStore::enqueue(Op op) {
  batches_.queue([this, &op](std::deque<Op>& queued) {
    op.seq = ++write_seq_;
    if (auto* v = std::get_if<VersionWrite>(&op.write)) {
      version_overlay_[{v->device, v->version.version}] = {op.seq, v->version};
    } else {
      auto& r = std::get<ReportedWrite>(op.write);
      reported_overlay_[r.device] = {op.seq, r.reported};
    }
    queued.push_back(std::move(op));
  });
}

void SqliteConfigStore::put_version(const std::string& device, const ConfigVersion& version,
                                    Committed done) {
  enqueue(Op{0, VersionWrite{device, version, std::move(done)}});
}

void SqliteConfigStore::put_reported(const std::string& device, const ReportedConfig& reported) {
  enqueue(Op{0, ReportedWrite{device, reported}});
}

void SqliteConfigStore::settle(const std::deque<Op>& batch) {
  for (const Op& op : batch) {
    if (const auto* v = std::get_if<VersionWrite>(&op.write)) {
      auto it = version_overlay_.find({v->device, v->version.version});
      if (it != version_overlay_.end() && it->second.first == op.seq) version_overlay_.erase(it);
    } else {
      const auto& r = std::get<ReportedWrite>(op.write);
      auto it = reported_overlay_.find(r.device);
      if (it != reported_overlay_.end() && it->second.first == op.seq) reported_overlay_.erase(it);
    }
  }
}

Status SqliteConfigStore::write_batch(std::deque<Op>& batch) {
  return sqlite::transaction(writer_, "writing a config batch", [&]() -> Status {
    for (const Op& op : batch) {
      if (auto s = write_op(op); !s.ok()) return s;
    }
    return Status::Ok();
  });
}

Status SqliteConfigStore::write_op(const Op& op) {
  if (const auto* w = std::get_if<VersionWrite>(&op.write)) {
    const ConfigVersion& v = w->version;
    Stmt s(writer_,
           "INSERT OR REPLACE INTO config_versions(device, version, document, mode, pushed_by, "
           "pushed_ms, state, reason, answered_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)");
    s.bind(1, w->device);
    s.bind(2, to_db(v.version));
    s.bind(3, v.document_json);
    s.bind(4, v.mode);
    s.bind(5, v.pushed_by);
    s.bind(6, v.pushed_ms);
    s.bind(7, std::string(config_state_name(v.state)));
    s.bind(8, v.reason);
    s.bind(9, v.answered_ms);
    if (s.step() != SQLITE_DONE) return s.error("storing a config version");
    // History is bounded per device: the oldest versions go first.
    Stmt prune(writer_,
               "DELETE FROM config_versions WHERE device = ?1 AND version < (SELECT version FROM "
               "config_versions WHERE device = ?1 ORDER BY version DESC LIMIT 1 OFFSET ?2)");
    prune.bind(1, w->device);
    prune.bind(2, static_cast<std::int64_t>(kMaxHistory - 1));
    if (prune.step() != SQLITE_DONE) return prune.error("pruning config history");
    return Status::Ok();
  }
  const auto& r = std::get<ReportedWrite>(op.write);
  Stmt s(writer_,
         "INSERT OR REPLACE INTO config_reported(device, version, vals, at_ms) "
         "VALUES(?1,?2,?3,?4)");
  s.bind(1, r.device);
  s.bind(2, to_db(r.reported.version));
  s.bind(3, r.reported.values_json);
  s.bind(4, r.reported.at_ms);
  if (s.step() != SQLITE_DONE) return s.error("storing a reported config");
  return Status::Ok();
}

Result<std::optional<ConfigVersion>> SqliteConfigStore::latest(const std::string& device) {
  auto rows = history(device, 1);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return std::optional<ConfigVersion>();
  return std::optional<ConfigVersion>(std::move(rows->front()));
}

Result<std::vector<ConfigVersion>> SqliteConfigStore::history(const std::string& device,
                                                              std::size_t limit) {
  // The overlay first: a batch that commits between the two reads is then seen
  // in the file, never missed by both.
  std::map<std::uint64_t, ConfigVersion> rows;
  batches_.inspect([&](const auto&, const auto&) {
    for (auto it = version_overlay_.lower_bound({device, 0});
         it != version_overlay_.end() && it->first.first == device; ++it) {
      rows[it->first.second] = it->second.second;
    }
  });
  const std::string sql = std::string("SELECT ") + kVersionColumns +
                          " FROM config_versions WHERE device = ?1 ORDER BY version DESC LIMIT ?2";
  Stmt s(reader_, sql.c_str());
  if (!s.ok()) return s.error("reading config history");
  s.bind(1, device);
  s.bind(2, static_cast<std::int64_t>(limit));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    ConfigVersion v = read_version(s);
    rows.emplace(v.version, std::move(v));  // a queued write of the same version wins
  }
  if (rc != SQLITE_DONE) return s.error("reading config history");
  std::vector<ConfigVersion> out;
  for (auto it = rows.rbegin(); it != rows.rend() && out.size() < limit; ++it) {
    out.push_back(std::move(it->second));
  }
  return out;
}

Result<std::optional<ReportedConfig>> SqliteConfigStore::reported(const std::string& device) {
  auto overlaid = batches_.inspect([&](const auto&, const auto&) {
    auto it = reported_overlay_.find(device);
    return it == reported_overlay_.end() ? std::optional<ReportedConfig>() : it->second.second;
  });
  if (overlaid) return overlaid;
  Stmt s(reader_, "SELECT version, vals, at_ms FROM config_reported WHERE device = ?1");
  if (!s.ok()) return s.error("reading a reported config");
  s.bind(1, device);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<ReportedConfig>();
  if (rc != SQLITE_ROW) return s.error("reading a reported config");
  return std::optional<ReportedConfig>(ReportedConfig{from_db(s.int64(0)), s.text(1), s.int64(2)});
}

Status SqliteConfigStore::flush() {
  return batches_.flush();
}

}  // namespace tether::hub
