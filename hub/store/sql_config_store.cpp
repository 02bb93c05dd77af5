#include "hub/store/sql_config_store.hpp"

#include <algorithm>
#include <limits>

#include "hub/store/again_if_unavailable.hpp"
#include "hub/store/sql_store_connections.hpp"

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

// Versions are stored as a signed 64-bit INTEGER; the service never pushes one above
// INT64_MAX, and a device-reported one round-trips its bits.
std::int64_t to_db(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
std::uint64_t from_db(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}
// A LIMIT both engines take (PostgreSQL refuses a negative one).
std::int64_t to_limit(std::size_t n) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

constexpr const char* kVersionColumns =
    "version, document, mode, pushed_by, pushed_ms, state, reason, answered_ms";

ConfigVersion read_version(const sql::Row& row) {
  ConfigVersion v;
  v.version = from_db(row.int64(0));
  v.document_json = row.text(1);
  v.mode = row.text(2);
  v.pushed_by = row.text(3);
  v.pushed_ms = row.int64(4);
  v.state = parse_config_state(row.text(5)).value_or(ConfigState::kPending);
  v.reason = row.text(6);
  v.answered_ms = row.int64(7);
  return v;
}

}  // namespace

const std::vector<sql::Migration>& SqlConfigStore::migrations() {
  // Version 1 is the schema config.db had before the store was ported: an existing
  // file takes it as it is.
  static const std::vector<sql::Migration> kMigrations = {
      {1,
       {
           "CREATE TABLE IF NOT EXISTS config_versions ("
           " device TEXT NOT NULL, version INTEGER NOT NULL, document TEXT NOT NULL,"
           " mode TEXT NOT NULL, pushed_by TEXT NOT NULL, pushed_ms INTEGER NOT NULL,"
           " state TEXT NOT NULL, reason TEXT NOT NULL, answered_ms INTEGER NOT NULL,"
           " PRIMARY KEY(device, version))",
           "CREATE TABLE IF NOT EXISTS config_reported ("
           " device TEXT PRIMARY KEY, version INTEGER NOT NULL, vals TEXT NOT NULL,"
           " at_ms INTEGER NOT NULL)",
       }},
  };
  return kMigrations;
}

Result<std::unique_ptr<SqlConfigStore>> SqlConfigStore::open(const sql::StoreUrl& url) {
  // A version is sent to the device only once it is committed: sync each commit.
  const sql::ConnectOptions options{.sqlite_file = "config.db", .synchronous = "FULL"};
  auto connections = open_store_connections(url, "config", options, migrations());
  if (!connections.ok()) return connections.error();
  return std::unique_ptr<SqlConfigStore>(
      new SqlConfigStore(std::move(connections->reader), std::move(connections->writer)));
}

SqlConfigStore::SqlConfigStore(std::unique_ptr<sql::Connection> reader,
                               std::unique_ptr<sql::Connection> writer)
    : reader_(std::move(reader)),
      writer_(std::move(writer)),
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

SqlConfigStore::~SqlConfigStore() {
  // The writer thread uses writer_: it ends before the connections close.
  batches_.stop();
}

void SqlConfigStore::enqueue(Op op) {
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

void SqlConfigStore::put_version(const std::string& device, const ConfigVersion& version,
                                 Committed done) {
  enqueue(Op{0, VersionWrite{device, version, std::move(done)}});
}

void SqlConfigStore::put_reported(const std::string& device, const ReportedConfig& reported) {
  enqueue(Op{0, ReportedWrite{device, reported}});
}

void SqlConfigStore::settle(const std::deque<Op>& batch) {
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

Status SqlConfigStore::write_batch(std::deque<Op>& batch) {
  // Upserts and a prune: written again whole when the server dropped the connection.
  return again_if_unavailable([&] {
    return sql::transaction(*writer_, "writing a config batch", [&]() -> Status {
      for (const Op& op : batch) {
        if (auto s = write_op(op); !s.ok()) return s;
      }
      return Status::Ok();
    });
  });
}

Status SqlConfigStore::write_op(const Op& op) {
  if (const auto* w = std::get_if<VersionWrite>(&op.write)) {
    const ConfigVersion& v = w->version;
    auto stored = writer_->run(
        "INSERT INTO config_versions(device, version, document, mode, pushed_by, pushed_ms, "
        "state, reason, answered_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9) "
        "ON CONFLICT (device, version) DO UPDATE SET document = excluded.document, "
        "mode = excluded.mode, pushed_by = excluded.pushed_by, pushed_ms = excluded.pushed_ms, "
        "state = excluded.state, reason = excluded.reason, answered_ms = excluded.answered_ms",
        {w->device, to_db(v.version), v.document_json, v.mode, v.pushed_by, v.pushed_ms,
         config_state_name(v.state), v.reason, v.answered_ms});
    if (!stored.ok()) return stored.error().wrap("storing a config version");
    // History is bounded per device: the oldest versions go first.
    auto pruned = writer_->run(
        "DELETE FROM config_versions WHERE device = $1 AND version < (SELECT version FROM "
        "config_versions WHERE device = $1 ORDER BY version DESC LIMIT 1 OFFSET $2)",
        {w->device, static_cast<std::int64_t>(kMaxHistory - 1)});
    if (!pruned.ok()) return pruned.error().wrap("pruning config history");
    return Status::Ok();
  }
  const auto& r = std::get<ReportedWrite>(op.write);
  auto stored = writer_->run(
      "INSERT INTO config_reported(device, version, vals, at_ms) VALUES($1,$2,$3,$4) "
      "ON CONFLICT (device) DO UPDATE SET version = excluded.version, vals = excluded.vals, "
      "at_ms = excluded.at_ms",
      {r.device, to_db(r.reported.version), r.reported.values_json, r.reported.at_ms});
  if (!stored.ok()) return stored.error().wrap("storing a reported config");
  return Status::Ok();
}

Result<std::optional<ConfigVersion>> SqlConfigStore::latest(const std::string& device) {
  auto rows = history(device, 1);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return std::optional<ConfigVersion>();
  return std::optional<ConfigVersion>(std::move(rows->front()));
}

Result<std::vector<ConfigVersion>> SqlConfigStore::history(const std::string& device,
                                                           std::size_t limit) {
  // The overlay first: a batch that commits between the two reads is then seen
  // in the database, never missed by both.
  std::map<std::uint64_t, ConfigVersion> rows;
  batches_.inspect([&](const auto&, const auto&) {
    for (auto it = version_overlay_.lower_bound({device, 0});
         it != version_overlay_.end() && it->first.first == device; ++it) {
      rows[it->first.second] = it->second.second;
    }
  });
  const std::string sql = std::string("SELECT ") + kVersionColumns +
                          " FROM config_versions WHERE device = $1 ORDER BY version DESC LIMIT $2";
  auto stored = again_if_unavailable([&] {
    return reader_->query(sql, {device, to_limit(limit)});
  });
  if (!stored.ok()) return stored.error().wrap("reading config history");
  for (const sql::Row& row : *stored) {
    ConfigVersion v = read_version(row);
    rows.emplace(v.version, std::move(v));  // a queued write of the same version wins
  }
  std::vector<ConfigVersion> out;
  for (auto it = rows.rbegin(); it != rows.rend() && out.size() < limit; ++it) {
    out.push_back(std::move(it->second));
  }
  return out;
}

Result<std::optional<ReportedConfig>> SqlConfigStore::reported(const std::string& device) {
  auto overlaid = batches_.inspect([&](const auto&, const auto&) {
    auto it = reported_overlay_.find(device);
    return it == reported_overlay_.end() ? std::optional<ReportedConfig>() : it->second.second;
  });
  if (overlaid) return overlaid;
  auto rows = again_if_unavailable([&] {
    return reader_->query("SELECT version, vals, at_ms FROM config_reported WHERE device = $1",
                          {device});
  });
  if (!rows.ok()) return rows.error().wrap("reading a reported config");
  if (rows->empty()) return std::optional<ReportedConfig>();
  const sql::Row& row = rows->front();
  return std::optional<ReportedConfig>(
      ReportedConfig{from_db(row.int64(0)), row.text(1), row.int64(2)});
}

Status SqlConfigStore::flush() {
  return batches_.flush();
}

}  // namespace tether::hub
