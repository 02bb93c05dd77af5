#include "hub/store/sqlite_command_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "hub/store/sqlite_db.hpp"

namespace tether::hub {

namespace {

using Statement = sqlite::Stmt;

constexpr const char* kColumns =
    "id, device, target, action, args, timeout_s, request, user, created_ms, status, ret, err, "
    "device_ts, finished_ms";

CommandRecord read_row(const Statement& s) {
  CommandRecord r;
  r.id = s.text(0);
  r.device = s.text(1);
  r.target = s.text(2);
  r.action = s.text(3);
  r.args_json = s.text(4);
  if (!s.is_null(5)) r.timeout_s = static_cast<std::uint64_t>(s.int64(5));
  r.request = s.blob(6);
  r.user = s.text(7);
  r.created_ms = s.int64(8);
  r.outcome.status = s.text(9);
  r.outcome.ret_json = s.opt_text(10);
  r.outcome.err = s.opt_text(11);
  r.outcome.device_ts = s.int64(12);
  r.outcome.finished_ms = s.int64(13);
  return r;
}

}  // namespace

Result<std::unique_ptr<SqliteCommandStore>> SqliteCommandStore::open(const std::string& state_dir,
                                                                     std::size_t max_history) {
  auto conn = sqlite::open_store_file(
      state_dir, "commands.db",
      {
          // seq orders a device's commands (created_ms may repeat within a millisecond).
          "CREATE TABLE IF NOT EXISTS commands ("
          " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
          " id TEXT NOT NULL, device TEXT NOT NULL, target TEXT NOT NULL,"
          " action TEXT NOT NULL, args TEXT NOT NULL, timeout_s INTEGER, request BLOB,"
          " user TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL,"
          " ret TEXT, err TEXT, device_ts INTEGER NOT NULL DEFAULT 0,"
          " finished_ms INTEGER NOT NULL DEFAULT 0, UNIQUE(device, id))",
          "CREATE INDEX IF NOT EXISTS commands_pending ON commands(status) "
          "WHERE status = 'pending'",
      },
      "FULL");
  if (!conn.ok()) return conn.error();
  return std::unique_ptr<SqliteCommandStore>(
      new SqliteCommandStore(conn->reader, conn->writer, max_history));
}

SqliteCommandStore::SqliteCommandStore(sqlite3* reader, sqlite3* writer, std::size_t max_history)
    : reader_(reader),
      writer_(writer),
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

SqliteCommandStore::~SqliteCommandStore() {
  batches_.stop();
  sqlite3_close(writer_);
  sqlite3_close(reader_);
}

void SqliteCommandStore::enqueue(Op op) {
  batches_.queue([&op](std::deque<Op>& queued) { queued.push_back(std::move(op)); });
}

void SqliteCommandStore::add(CommandRecord record, Committed done) {
  enqueue(Add{std::move(record), std::move(done)});
}

void SqliteCommandStore::finish(const std::string& device, const std::string& id,
                                CommandOutcome outcome, Committed done) {
  enqueue(Finish{device, id, std::move(outcome), std::move(done)});
}

Status SqliteCommandStore::write_batch(std::deque<Op>& batch) {
  return sqlite::transaction(writer_, "writing a command batch", [&]() -> Status {
    for (const Op& op : batch) {
      if (auto s = write_op(op); !s.ok()) return s;
    }
    return Status::Ok();
  });
}

Status SqliteCommandStore::write_op(const Op& op) {
  if (const auto* a = std::get_if<Add>(&op)) {
    const CommandRecord& r = a->record;
    Statement s(writer_,
                "INSERT OR IGNORE INTO commands(id, device, target, action, args, timeout_s, "
                "request, user, created_ms, status, ret, err, device_ts, finished_ms) "
                "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)");
    if (!s.ok()) return s.error("storing a command");
    s.bind(1, r.id);
    s.bind(2, r.device);
    s.bind(3, r.target);
    s.bind(4, r.action);
    s.bind(5, r.args_json);
    if (r.timeout_s) {
      s.bind(6, static_cast<std::int64_t>(std::min<std::uint64_t>(
                    *r.timeout_s, std::numeric_limits<std::int64_t>::max())));
    }
    s.bind(7, r.request);
    s.bind(8, r.user);
    s.bind(9, r.created_ms);
    s.bind(10, r.outcome.status);
    s.bind(11, r.outcome.ret_json);
    s.bind(12, r.outcome.err);
    s.bind(13, r.outcome.device_ts);
    s.bind(14, r.outcome.finished_ms);
    if (s.step() != SQLITE_DONE) return s.error("storing a command");
    // The device's oldest finished commands beyond the cap go.
    Statement prune(writer_,
                    "DELETE FROM commands WHERE device = ?1 AND status != 'pending' AND seq <= "
                    "(SELECT seq FROM commands WHERE device = ?1 ORDER BY seq DESC "
                    "LIMIT 1 OFFSET ?2)");
    if (!prune.ok()) return prune.error("pruning commands");
    prune.bind(1, r.device);
    prune.bind(2, static_cast<std::int64_t>(max_history_));
    if (prune.step() != SQLITE_DONE) return prune.error("pruning commands");
    return Status::Ok();
  }
  const auto& f = std::get<Finish>(op);
  Statement s(writer_,
              "UPDATE commands SET status = ?3, ret = ?4, err = ?5, device_ts = ?6, "
              "finished_ms = ?7 WHERE device = ?1 AND id = ?2 AND status = 'pending'");
  if (!s.ok()) return s.error("finishing a command");
  s.bind(1, f.device);
  s.bind(2, f.id);
  s.bind(3, f.outcome.status);
  s.bind(4, f.outcome.ret_json);
  s.bind(5, f.outcome.err);
  s.bind(6, f.outcome.device_ts);
  s.bind(7, f.outcome.finished_ms);
  if (s.step() != SQLITE_DONE) return s.error("finishing a command");
  return Status::Ok();
}

Result<std::optional<CommandRecord>> SqliteCommandStore::get(const std::string& device,
                                                             const std::string& id) {
  const std::string sql =
      std::string("SELECT ") + kColumns + " FROM commands WHERE device = ?1 AND id = ?2";
  Statement s(reader_, sql.c_str());
  if (!s.ok()) return s.error("reading a command");
  s.bind(1, device);
  s.bind(2, id);
  const int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<CommandRecord>(read_row(s));
  if (rc != SQLITE_DONE) return s.error("reading a command");
  return std::optional<CommandRecord>();
}

Result<std::vector<CommandRecord>> SqliteCommandStore::history(const std::string& device,
                                                               std::size_t limit) {
  const std::string sql = std::string("SELECT ") + kColumns +
                          " FROM commands WHERE device = ?1 ORDER BY seq DESC LIMIT ?2";
  Statement s(reader_, sql.c_str());
  if (!s.ok()) return s.error("reading commands");
  s.bind(1, device);
  s.bind(2, static_cast<std::int64_t>(limit));
  std::vector<CommandRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_row(s));
  if (rc != SQLITE_DONE) return s.error("reading commands");
  return out;
}

Result<std::vector<CommandRecord>> SqliteCommandStore::pending() {
  const std::string sql =
      std::string("SELECT ") + kColumns + " FROM commands WHERE status = 'pending' ORDER BY seq";
  Statement s(reader_, sql.c_str());
  if (!s.ok()) return s.error("reading pending commands");
  std::vector<CommandRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_row(s));
  if (rc != SQLITE_DONE) return s.error("reading pending commands");
  return out;
}

Status SqliteCommandStore::flush() {
  return batches_.flush();
}

}  // namespace tether::hub
