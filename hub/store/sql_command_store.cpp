#include "hub/store/sql_command_store.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "hub/store/again_if_unavailable.hpp"
#include "hub/store/sql_store_connections.hpp"

namespace tether::hub {

namespace {

// `user` is a reserved word in PostgreSQL: quoted everywhere (SQLite takes the
// quotes too, for the same column).
constexpr const char* kColumns =
    "id, device, target, action, args, timeout_s, request, \"user\", created_ms, status, ret, "
    "err, device_ts, finished_ms";

// A signed 64-bit value both engines take (a LIMIT, a timeout).
std::int64_t clamp_to_db(std::uint64_t n) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(
      n, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
}

CommandRecord read_row(const sql::Row& row) {
  CommandRecord r;
  r.id = row.text(0);
  r.device = row.text(1);
  r.target = row.text(2);
  r.action = row.text(3);
  r.args_json = row.text(4);
  if (!row.is_null(5)) r.timeout_s = static_cast<std::uint64_t>(row.int64(5));
  r.request = row.blob(6);
  r.user = row.text(7);
  r.created_ms = row.int64(8);
  r.outcome.status = row.text(9);
  r.outcome.ret_json = row.opt_text(10);
  r.outcome.err = row.opt_text(11);
  r.outcome.device_ts = row.int64(12);
  r.outcome.finished_ms = row.int64(13);
  return r;
}

}  // namespace

const std::vector<sql::Migration>& SqlCommandStore::migrations() {
  // Version 1 is the schema commands.db had before the store was ported (there
  // `seq INTEGER PRIMARY KEY AUTOINCREMENT`, which AUTO_ID is on SQLite): an
  // existing file takes it as it is.
  static const std::vector<sql::Migration> kMigrations = {
      {1,
       {
           // seq orders a device's commands (created_ms may repeat within a millisecond).
           "CREATE TABLE IF NOT EXISTS commands ("
           " seq AUTO_ID,"
           " id TEXT NOT NULL, device TEXT NOT NULL, target TEXT NOT NULL,"
           " action TEXT NOT NULL, args TEXT NOT NULL, timeout_s INTEGER, request BLOB,"
           " \"user\" TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL,"
           " ret TEXT, err TEXT, device_ts INTEGER NOT NULL DEFAULT 0,"
           " finished_ms INTEGER NOT NULL DEFAULT 0, UNIQUE(device, id))",
           "CREATE INDEX IF NOT EXISTS commands_pending ON commands(status) "
           "WHERE status = 'pending'",
       }},
  };
  return kMigrations;
}

Result<std::unique_ptr<SqlCommandStore>> SqlCommandStore::open(const sql::StoreUrl& url,
                                                               std::size_t max_history) {
  const sql::ConnectOptions options{.sqlite_file = "commands.db", .synchronous = "FULL"};
  auto connections = open_store_connections(url, "commands", options, migrations());
  if (!connections.ok()) return connections.error();
  return std::unique_ptr<SqlCommandStore>(new SqlCommandStore(
      std::move(connections->reader), std::move(connections->writer), max_history));
}

SqlCommandStore::SqlCommandStore(std::unique_ptr<sql::Connection> reader,
                                 std::unique_ptr<sql::Connection> writer, std::size_t max_history)
    : reader_(std::move(reader)),
      writer_(std::move(writer)),
      max_history_(max_history),
      batches_({.write = [this](std::deque<Op>& batch) { return write_batch(batch); },
                .complete =
                    [](std::deque<Op>& batch, const Status& written) {
                      for (Op& op : batch) {
                        std::visit(
                            [&written](auto& o) {
                              if (o.done) o.done(written);
                            },
                            op);
                      }
                    }}) {}

SqlCommandStore::~SqlCommandStore() {
  // The writer thread uses writer_: it ends before the connections close.
  batches_.stop();
}

void SqlCommandStore::enqueue(Op op) {
  batches_.queue([&op](std::deque<Op>& queued) { queued.push_back(std::move(op)); });
}

void SqlCommandStore::add(CommandRecord record, Committed done) {
  enqueue(Add{std::move(record), std::move(done)});
}

void SqlCommandStore::finish(const std::string& device, const std::string& id,
                             CommandOutcome outcome, Committed done) {
  enqueue(Finish{device, id, std::move(outcome), std::move(done)});
}

Status SqlCommandStore::write_batch(std::deque<Op>& batch) {
  // Inserts that skip a stored row, updates of pending rows only, a prune: written
  // again whole when the server dropped the connection.
  return again_if_unavailable([&] {
    return sql::transaction(*writer_, "writing a command batch", [&]() -> Status {
      for (const Op& op : batch) {
        if (auto s = write_op(op); !s.ok()) return s;
      }
      return Status::Ok();
    });
  });
}

Status SqlCommandStore::write_op(const Op& op) {
  if (const auto* a = std::get_if<Add>(&op)) {
    const CommandRecord& r = a->record;
    const sql::Param timeout =
        r.timeout_s ? sql::Param(clamp_to_db(*r.timeout_s)) : sql::Param(nullptr);
    auto stored = writer_->run(
        "INSERT INTO commands(id, device, target, action, args, timeout_s, request, \"user\", "
        "created_ms, status, ret, err, device_ts, finished_ms) "
        "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) "
        "ON CONFLICT (device, id) DO NOTHING",
        {r.id, r.device, r.target, r.action, r.args_json, timeout, r.request, r.user, r.created_ms,
         r.outcome.status, r.outcome.ret_json, r.outcome.err, r.outcome.device_ts,
         r.outcome.finished_ms});
    if (!stored.ok()) return stored.error().wrap("storing a command");
    // The device's oldest finished commands beyond the cap go.
    auto pruned = writer_->run(
        "DELETE FROM commands WHERE device = $1 AND status != 'pending' AND seq <= "
        "(SELECT seq FROM commands WHERE device = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)",
        {r.device, clamp_to_db(max_history_)});
    if (!pruned.ok()) return pruned.error().wrap("pruning commands");
    return Status::Ok();
  }
  const auto& f = std::get<Finish>(op);
  auto finished = writer_->run(
      "UPDATE commands SET status = $3, ret = $4, err = $5, device_ts = $6, finished_ms = $7 "
      "WHERE device = $1 AND id = $2 AND status = 'pending'",
      {f.device, f.id, f.outcome.status, f.outcome.ret_json, f.outcome.err, f.outcome.device_ts,
       f.outcome.finished_ms});
  if (!finished.ok()) return finished.error().wrap("finishing a command");
  return Status::Ok();
}

Result<std::optional<CommandRecord>> SqlCommandStore::get(const std::string& device,
                                                          const std::string& id) {
  const std::string sql =
      std::string("SELECT ") + kColumns + " FROM commands WHERE device = $1 AND id = $2";
  auto rows = again_if_unavailable([&] { return reader_->query(sql, {device, id}); });
  if (!rows.ok()) return rows.error().wrap("reading a command");
  if (rows->empty()) return std::optional<CommandRecord>();
  return std::optional<CommandRecord>(read_row(rows->front()));
}

Result<std::vector<CommandRecord>> SqlCommandStore::history(const std::string& device,
                                                            std::size_t limit) {
  const std::string sql = std::string("SELECT ") + kColumns +
                          " FROM commands WHERE device = $1 ORDER BY seq DESC LIMIT $2";
  auto rows = again_if_unavailable([&] {
    return reader_->query(sql, {device, clamp_to_db(limit)});
  });
  if (!rows.ok()) return rows.error().wrap("reading commands");
  std::vector<CommandRecord> out;
  out.reserve(rows->size());
  for (const sql::Row& row : *rows) out.push_back(read_row(row));
  return out;
}

Result<std::vector<CommandRecord>> SqlCommandStore::pending() {
  const std::string sql =
      std::string("SELECT ") + kColumns + " FROM commands WHERE status = 'pending' ORDER BY seq";
  auto rows = again_if_unavailable([&] { return reader_->query(sql); });
  if (!rows.ok()) return rows.error().wrap("reading pending commands");
  std::vector<CommandRecord> out;
  out.reserve(rows->size());
  for (const sql::Row& row : *rows) out.push_back(read_row(row));
  return out;
}

Result<std::vector<CommandRecord>> SqlCommandStore::pending_of(const std::string& device) {
  const std::string sql = std::string("SELECT ") + kColumns +
                          " FROM commands WHERE device = $1 AND status = 'pending' ORDER BY seq";
  auto rows = again_if_unavailable([&] { return reader_->query(sql, {device}); });
  if (!rows.ok()) return rows.error().wrap("reading the pending commands of a device");
  std::vector<CommandRecord> out;
  out.reserve(rows->size());
  for (const sql::Row& row : *rows) out.push_back(read_row(row));
  return out;
}

Status SqlCommandStore::flush() {
  return batches_.flush();
}

}  // namespace tether::hub
