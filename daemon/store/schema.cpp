#include "daemon/store/schema.hpp"

#include <array>
#include <string>

namespace tether::daemon::store {
namespace {

// migrations[i] takes a database from user_version i to i + 1.
constexpr std::array<const char*, kSchemaVersion> kMigrations = {
    // 0 -> 1: logs with a persisted high-water mark (so a sequence number is never
    // handed out twice, even once every record is erased), their records (size kept
    // in a column so that stats and trimming never read the blobs), and documents.
    "CREATE TABLE logs ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  high_water INTEGER NOT NULL);"
    "CREATE TABLE records ("
    "  log_id INTEGER NOT NULL REFERENCES logs(id),"
    "  seq INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (log_id, seq));"
    "CREATE TABLE documents ("
    "  key TEXT PRIMARY KEY,"
    "  data BLOB NOT NULL);",
};

Result<std::string> single_text(SqliteConnection& connection, const char* sql) {
  auto statement = connection.prepare(sql);
  if (!statement.ok()) return statement.error();
  StatementUse use(**statement);
  auto row = use->step();
  if (!row.ok()) return row.error();
  if (!*row) return std::string();
  return use->column_text(0);
}

Result<std::int64_t> single_int(SqliteConnection& connection, const char* sql) {
  auto statement = connection.prepare(sql);
  if (!statement.ok()) return statement.error();
  StatementUse use(**statement);
  auto row = use->step();
  if (!row.ok()) return row.error();
  if (!*row) return std::int64_t{0};
  return use->column_int(0);
}

// "ok", or the first few problems quick_check reports, joined (a damaged file can
// report thousands; the first ones say enough).
Result<std::string> check_integrity(SqliteConnection& connection) {
  // The first statement that reads the file: a file that is not a database fails
  // here with "file is not a database", a truncated one with "malformed".
  auto statement = connection.prepare("PRAGMA quick_check(4)");
  if (!statement.ok()) return connection.error("checking the database");
  StatementUse use(**statement);
  std::string report;
  while (true) {
    auto row = use->step();
    if (!row.ok()) return connection.error("checking the database");
    if (!*row) break;
    if (!report.empty()) report += "; ";
    report += use->column_text(0);
  }
  return report;
}

}  // namespace

Status prepare_schema(SqliteConnection& connection) {
  const std::string& path = connection.path().string();
  // A second tetherd waiting for the lock would hang at start: fail at once.
  if (Status st = connection.exec("PRAGMA busy_timeout = 0"); !st.ok()) return st;
  if (connection.read_only()) {
    return Error(ErrorCode::kStorageFailure, path + ": the database file is not writable");
  }
  // Exclusive locking: one tetherd per state dir. A second process on the same
  // database fails at open ("database is locked") instead of racing the first one
  // for sequence numbers; it also keeps the WAL index in process memory (no -shm
  // file, no shared mmap).
  if (Status st = connection.exec("PRAGMA locking_mode = EXCLUSIVE"); !st.ok()) return st;

  // quick_check verifies every b-tree page (structure, free list, record format) but
  // not that indexes match their tables; it reads the whole file once, which is
  // O(database size): docs/store.md gives the measured cost.
  auto check = check_integrity(connection);
  if (!check.ok()) return check.error();
  if (*check != "ok") {
    return Error(ErrorCode::kStorageFailure, path + ": integrity check failed: " + *check);
  }

  auto mode = single_text(connection, "PRAGMA journal_mode = WAL");
  if (!mode.ok()) return mode.error();
  if (*mode != "wal") {
    return Error(ErrorCode::kStorageFailure, path + ": cannot use WAL mode (got " + *mode + ")");
  }
  // Durability in WAL mode: with synchronous=NORMAL the WAL is synced only at
  // checkpoints, so a transaction reported committed can be lost at a power cut
  // (the database stays consistent, but an acknowledged record would be gone).
  // FULL syncs the WAL at every commit, so a commit that returned is on disk. One
  // sync per transaction is what group commit amortizes.
  if (Status st = connection.exec("PRAGMA synchronous = FULL"); !st.ok()) return st;
  // After a checkpoint, the WAL is truncated back to this size instead of keeping
  // its largest size forever.
  if (Status st = connection.exec("PRAGMA journal_size_limit = 4194304"); !st.ok()) return st;

  // Always one write transaction at open, even with nothing to migrate: it takes the
  // exclusive lock and proves that the file and the directory (for the WAL) are
  // writable now, not at the first record.
  if (Status st = connection.exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  auto rollback = [&connection](Error error) -> Status {
    if (connection.in_transaction()) (void)connection.exec("ROLLBACK");
    return error;
  };
  auto version = single_int(connection, "PRAGMA user_version");
  if (!version.ok()) return rollback(version.error());
  if (*version < 0 || *version > kSchemaVersion) {
    return rollback(
        Error(ErrorCode::kStorageFailure, path + ": schema version " + std::to_string(*version) +
                                              " is not one this tetherd knows (it writes version " +
                                              std::to_string(kSchemaVersion) + ")"));
  }
  for (auto v = static_cast<std::size_t>(*version); v < kMigrations.size(); ++v) {
    if (Status st = connection.exec(kMigrations.at(v)); !st.ok()) {
      return rollback(st.error().wrap("migrating to schema version " + std::to_string(v + 1)));
    }
  }
  const std::string set_version = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
  if (Status st = connection.exec(set_version.c_str()); !st.ok()) return rollback(st.error());
  if (Status st = connection.exec("COMMIT"); !st.ok()) return rollback(st.error());
  return {};
}

}  // namespace tether::daemon::store
