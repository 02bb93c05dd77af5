#include "hub/store/sqlite_db.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace tether::hub::sqlite {

Stmt::Stmt(sqlite3* db, const char* sql) : db_(db) {
  rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

Error Stmt::error(const std::string& what) const {
  return Error(ErrorCode::kStorageFailure, what + ": " + sqlite3_errmsg(db_));
}

void Stmt::bind(int i, const std::string& s) {
  sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

void Stmt::bind(int i, const std::optional<std::string>& s) {
  if (s) {
    bind(i, *s);
  } else {
    sqlite3_bind_null(stmt_, i);
  }
}

void Stmt::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
}

void Stmt::bind(int i, const protocol::Bytes& b) {
  sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

protocol::Bytes Stmt::blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
  const auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
  return p ? protocol::Bytes(p, p + n) : protocol::Bytes();
}

Stmt& cached(std::unique_ptr<Stmt>& slot, sqlite3* db, const char* sql) {
  if (!slot || !slot->ok()) {
    slot = std::make_unique<Stmt>(db, sql);
  } else {
    slot->reset();
  }
  return *slot;
}

Status exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Error(ErrorCode::kStorageFailure, msg);
  }
  return Status::Ok();
}

Status transaction(sqlite3* db, const std::string& what, const std::function<Status()>& body) {
  if (auto s = exec(db, "BEGIN IMMEDIATE"); !s.ok()) return s.error().wrap(what);
  if (auto s = body(); !s.ok()) {
    (void)exec(db, "ROLLBACK");
    return s.error().wrap(what);
  }
  if (auto s = exec(db, "COMMIT"); !s.ok()) {
    (void)exec(db, "ROLLBACK");
    return s.error().wrap("committing: " + what);
  }
  return Status::Ok();
}

Result<sqlite3*> open_connection(const std::string& path, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error(ErrorCode::kStorageFailure, "opening " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return db;
}

Result<StoreConnections> open_store_file(const std::string& state_dir, const std::string& file,
                                         std::initializer_list<const char*> schema,
                                         const char* synchronous, int busy_timeout_ms) {
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(ErrorCode::kStorageFailure,
                 "creating state directory " + state_dir + ": " + std::strerror(errno));
  }
  const std::string path = state_dir + "/" + file;
  const std::string sync_pragma = std::string("PRAGMA synchronous=") + synchronous;
  StoreConnections out;
  auto fail = [&](const Error& error) -> Result<StoreConnections> {
    sqlite3_close(out.writer);
    sqlite3_close(out.reader);
    return error;
  };
  auto writer = open_connection(path, busy_timeout_ms);
  if (!writer.ok()) return writer.error();
  out.writer = *writer;
  if (auto s = exec(out.writer, "PRAGMA journal_mode=WAL"); !s.ok()) {
    return fail(s.error().wrap("initialising " + path));
  }
  if (auto s = exec(out.writer, sync_pragma.c_str()); !s.ok()) {
    return fail(s.error().wrap("initialising " + path));
  }
  for (const char* sql : schema) {
    if (auto s = exec(out.writer, sql); !s.ok())
      return fail(s.error().wrap("initialising " + path));
  }
  auto reader = open_connection(path, busy_timeout_ms);
  if (!reader.ok()) return fail(reader.error());
  out.reader = *reader;
  if (auto s = exec(out.reader, sync_pragma.c_str()); !s.ok()) {
    return fail(s.error().wrap("initialising " + path));
  }
  return out;
}

}  // namespace tether::hub::sqlite
