#include "daemon/store/sqlite_connection.hpp"

#include <sqlite3.h>

#include <utility>

namespace tether::daemon::store {

Status Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) {
    return connection_->error("binding a value");
  }
  return {};
}

Status Statement::bind(int index, std::string_view text) {
  if (sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) !=
      SQLITE_OK) {
    return connection_->error("binding a value");
  }
  return {};
}

Status Statement::bind_blob(int index, const Bytes& blob) {
  // An empty vector's data() may be null, which SQLite would store as NULL.
  static const std::uint8_t kEmpty = 0;
  const void* data = blob.empty() ? &kEmpty : blob.data();
  if (sqlite3_bind_blob64(stmt_, index, data, blob.size(), SQLITE_TRANSIENT) != SQLITE_OK) {
    return connection_->error("binding a value");
  }
  return {};
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return connection_->error("running a statement");
}

Status Statement::run() {
  auto stepped = step();
  reset();
  if (!stepped.ok()) return stepped.error();
  return {};
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  const int size = sqlite3_column_bytes(stmt_, index);
  if (text == nullptr || size <= 0) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

Bytes Statement::column_blob(int index) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, index));
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr || size <= 0) return {};
  return {data, data + size};
}

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(
    const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: one thread at a time uses the connection (the opener, then the writer).
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Error(ErrorCode::kStorageFailure, path.string() + ": opening: " + message);
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(path, db));
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, statement] : statements_) {
    (void)sql;
    sqlite3_finalize(statement->stmt_);
  }
  statements_.clear();
  sqlite3_close_v2(db_);
}

Status SqliteConnection::exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return error(sql);
  }
  return {};
}

Status SqliteConnection::run(const char* sql) {
  auto statement = prepare(sql);
  if (!statement.ok()) return statement.error();
  return (*statement)->run();
}

Result<Statement*> SqliteConnection::prepare(const char* sql) {
  auto found = statements_.find(sql);
  if (found != statements_.end()) return found->second.get();
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    return error(std::string("preparing \"") + sql + "\"");
  }
  auto statement = std::make_unique<Statement>(*this, stmt);
  Statement* raw = statement.get();
  statements_.emplace(sql, std::move(statement));
  return raw;
}

bool SqliteConnection::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

bool SqliteConnection::read_only() const {
  return sqlite3_db_readonly(db_, "main") == 1;
}

Error SqliteConnection::error(std::string_view what) const {
  return Error(ErrorCode::kStorageFailure,
               path_.string() + ": " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

}  // namespace tether::daemon::store
