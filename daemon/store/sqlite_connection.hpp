// A thin owner of one SQLite connection and its prepared statements, turning SQLite's
// return codes into Error values (kStorageFailure, prefixed with the database path).
// Not thread-safe: exactly one thread uses a connection at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace tether::daemon::store {

using Bytes = tether::protocol::Bytes;
class SqliteConnection;

// A prepared statement owned by its connection's cache; reset after every use by
// the StatementUse guard below.
class Statement {
 public:
  Statement(SqliteConnection& connection, sqlite3_stmt* stmt)
      : connection_(&connection), stmt_(stmt) {}

  Status bind(int index, std::int64_t value);
  Status bind(int index, std::string_view text);
  Status bind_blob(int index, const Bytes& blob);
  // true when a row is available, false when the statement is done.
  Result<bool> step();
  // Runs a statement that returns no rows to completion.
  Status run();
  void reset();

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  Bytes column_blob(int index) const;
  bool column_is_null(int index) const;

 private:
  SqliteConnection* connection_;
  sqlite3_stmt* stmt_;
  friend class SqliteConnection;
};

// Resets a statement when the scope ends, so that a statement that stopped early
// (an error, a LIMIT reached by the caller) never holds a read transaction open.
class StatementUse {
 public:
  explicit StatementUse(Statement& statement) : statement_(statement) {}
  ~StatementUse() { statement_.reset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;
  Statement* operator->() { return &statement_; }
  Statement& get() { return statement_; }

 private:
  Statement& statement_;
};

class SqliteConnection {
 public:
  // Opens (or creates) the database file read-write. Fails when the file cannot be
  // opened; whether it is a database is only known at the first statement.
  static Result<std::unique_ptr<SqliteConnection>> open(const std::filesystem::path& path);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Runs one or more statements that return no rows.
  Status exec(const char* sql);
  // Runs one statement that returns no rows, prepared once and cached (for the
  // statements the writer runs per operation, such as SAVEPOINT and RELEASE).
  Status run(const char* sql);
  // The statement for `sql`, prepared once and cached by its text.
  Result<Statement*> prepare(const char* sql);
  // true while the connection is inside an explicit transaction.
  bool in_transaction() const;
  // true when SQLite opened the file read-only (a write-protected file).
  bool read_only() const;

  // kStorageFailure "<path>: <what>: <SQLite's message>".
  Error error(std::string_view what) const;

 private:
  SqliteConnection(std::filesystem::path path, sqlite3* db) : path_(std::move(path)), db_(db) {}

  std::filesystem::path path_;
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
  friend class Statement;
};

}  // namespace tether::daemon::store
