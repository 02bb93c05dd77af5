#include "hub/store/sql/sqlite_connection.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "hub/store/sql/dialect_text.hpp"

namespace tether::hub::sql {
namespace {

// The start of a statement, to say which one failed without flooding the log.
std::string excerpt(std::string_view sql) {
  constexpr std::size_t kMax = 80;
  std::string out(sql.substr(0, kMax));
  for (char& c : out) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (sql.size() > kMax) out += "...";
  return out;
}

// Creates `dir` and its missing parents; a directory this call creates is 0700
// (the hub's state is private to it).
Status ensure_directory(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Status::Ok();
  const std::filesystem::path path(dir);
  if (path.has_parent_path() && path.parent_path() != path) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return Error(ErrorCode::kStorageFailure,
                   "creating state directory " + path.parent_path().string() + ": " + ec.message());
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(ErrorCode::kStorageFailure,
                 "creating state directory " + dir + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status bind(sqlite3_stmt* stmt, int index, const Param& param) {
  static const char kEmpty[] = "";
  int rc = SQLITE_OK;
  const auto& v = param.value();
  if (std::holds_alternative<Param::Null>(v)) {
    rc = sqlite3_bind_null(stmt, index);
  } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
    rc = sqlite3_bind_int64(stmt, index, *i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    rc = sqlite3_bind_double(stmt, index, *d);
  } else if (const auto* s = std::get_if<std::string_view>(&v)) {
    // A null data pointer would bind NULL, not "": empty text points at kEmpty.
    rc = sqlite3_bind_text64(stmt, index, s->empty() ? kEmpty : s->data(), s->size(), SQLITE_STATIC,
                             SQLITE_UTF8);
  } else if (const auto* b = std::get_if<Param::Blob>(&v)) {
    rc = b->size == 0 ? sqlite3_bind_zeroblob(stmt, index, 0)
                      : sqlite3_bind_blob64(stmt, index, b->data, b->size, SQLITE_STATIC);
  }
  if (rc != SQLITE_OK) {
    return Error(ErrorCode::kStorageFailure,
                 "binding parameter $" + std::to_string(index) + ": " + sqlite3_errstr(rc));
  }
  return Status::Ok();
}

Row::Cell cell(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      return sqlite3_column_int64(stmt, col);
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, col);
    case SQLITE_TEXT: {
      const auto* p = sqlite3_column_text(stmt, col);
      const auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt, col));
      return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, col));
      const auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt, col));
      return p ? protocol::Bytes(p, p + n) : protocol::Bytes();
    }
    default:
      return std::monostate{};
  }
}

}  // namespace

Result<std::unique_ptr<Connection>> SqliteConnection::open(const std::string& dir,
                                                           const ConnectOptions& options) {
  if (options.sqlite_file.empty() || options.sqlite_file.find('/') != std::string::npos) {
    return Error(
        ErrorCode::kInvalidArgument,
        "SQLite database file name must be a plain name, got '" + options.sqlite_file + "'");
  }
  if (auto s = ensure_directory(dir); !s.ok()) return s.error();
  std::string path = dir + "/" + options.sqlite_file;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error(ErrorCode::kStorageFailure, "opening SQLite database " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db, path));
  const std::string synchronous =
      std::string("PRAGMA synchronous=") + (options.synchronous ? options.synchronous : "FULL");
  for (const std::string& pragma : {std::string("PRAGMA journal_mode=WAL"), synchronous}) {
    if (auto s = conn->exec(pragma); !s.ok()) return s.error().wrap("initialising " + path);
  }
  return std::unique_ptr<Connection>(std::move(conn));
}

SqliteConnection::~SqliteConnection() {
  statements_.clear();
  sqlite3_close(db_);
}

Error SqliteConnection::failure(std::string_view sql) const {
  return Error(ErrorCode::kStorageFailure, std::string("SQLite (") + path_ + "): " +
                                               sqlite3_errmsg(db_) + " (in: " + excerpt(sql) + ")");
}

Status SqliteConnection::exec(std::string_view sql) {
  const std::string text(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return Error(ErrorCode::kStorageFailure,
                 "SQLite (" + path_ + "): " + msg + " (in: " + excerpt(sql) + ")");
  }
  return Status::Ok();
}

Status SqliteConnection::begin() {
  return exec("BEGIN IMMEDIATE");
}

Result<sqlite3_stmt*> SqliteConnection::prepare_and_bind(std::string_view sql, const Param* params,
                                                         std::size_t count) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    const std::string rewritten = numbered_params_for_sqlite(sql);
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v3(db_, rewritten.c_str(), static_cast<int>(rewritten.size()),
                           SQLITE_PREPARE_PERSISTENT, &raw, &tail) != SQLITE_OK) {
      return failure(sql);
    }
    Statement stmt(raw);
    if (!stmt) {
      return Error(ErrorCode::kStorageFailure, "empty SQL statement (in: " + excerpt(sql) + ")");
    }
    for (; tail && *tail; ++tail) {
      if (*tail != ' ' && *tail != '\n' && *tail != '\t' && *tail != '\r' && *tail != ';') {
        return Error(ErrorCode::kStorageFailure,
                     "one statement expected, got several (in: " + excerpt(sql) + ")");
      }
    }
    it = statements_.emplace(std::string(sql), std::move(stmt)).first;
  }
  sqlite3_stmt* stmt = it->second.get();
  const auto expected = static_cast<std::size_t>(sqlite3_bind_parameter_count(stmt));
  if (count != expected) {
    return Error(ErrorCode::kStorageFailure, "statement takes " + std::to_string(expected) +
                                                 " parameters, given " + std::to_string(count) +
                                                 " (in: " + excerpt(sql) + ")");
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (auto s = bind(stmt, static_cast<int>(i + 1), params[i]); !s.ok()) {
      sqlite3_clear_bindings(stmt);
      return s.error().wrap(excerpt(sql));
    }
  }
  return stmt;
}

Status SqliteConnection::step_all(sqlite3_stmt* stmt, std::string_view sql, Rows* rows) {
  const int columns = sqlite3_column_count(stmt);
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (!rows) continue;
    std::vector<Row::Cell> cells;
    cells.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) cells.push_back(cell(stmt, c));
    rows->emplace_back(std::move(cells));
  }
  Status status = rc == SQLITE_DONE ? Status::Ok() : Status(failure(sql));
  // Parameters were bound without copies (SQLITE_STATIC): drop them before the
  // caller's values go away.
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return status;
}

Result<Rows> SqliteConnection::query(std::string_view sql, const Param* params, std::size_t count) {
  auto stmt = prepare_and_bind(sql, params, count);
  if (!stmt.ok()) return stmt.error();
  Rows rows;
  if (auto s = step_all(*stmt, sql, &rows); !s.ok()) return s.error();
  return rows;
}

Result<std::int64_t> SqliteConnection::run(std::string_view sql, const Param* params,
                                           std::size_t count) {
  auto stmt = prepare_and_bind(sql, params, count);
  if (!stmt.ok()) return stmt.error();
  if (auto s = step_all(*stmt, sql, nullptr); !s.ok()) return s.error();
  // sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE: a
  // statement that writes nothing changed nothing.
  return sqlite3_stmt_readonly(*stmt) ? std::int64_t{0}
                                      : static_cast<std::int64_t>(sqlite3_changes64(db_));
}

}  // namespace tether::hub::sql
