// The SQLite back end of sql::Connection: one sqlite3 handle on DIR/FILE (WAL),
// its statements prepared once and kept by their text.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hub/store/sql/database.hpp"

namespace tether::hub::sql {

class SqliteConnection final : public Connection {
 public:
  // Creates `dir` (0700) when missing and opens dir/options.sqlite_file.
  static Result<std::unique_ptr<Connection>> open(const std::string& dir,
                                                  const ConnectOptions& options);
  ~SqliteConnection() override;
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Dialect dialect() const override { return Dialect::kSqlite; }
  Status exec(std::string_view sql) override;
  Result<Rows> query(std::string_view sql, const Param* params, std::size_t count) override;
  Result<std::int64_t> run(std::string_view sql, const Param* params, std::size_t count) override;
  Status begin() override;

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  using Statement = std::unique_ptr<sqlite3_stmt, Finalize>;

  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  // The cached statement for `sql`, prepared (and cached) on first use, with
  // `params` bound.
  Result<sqlite3_stmt*> prepare_and_bind(std::string_view sql, const Param* params,
                                         std::size_t count);
  // Steps `stmt` to the end, keeping its rows when `rows` is given; resets it.
  Status step_all(sqlite3_stmt* stmt, std::string_view sql, Rows* rows);
  Error failure(std::string_view sql) const;

  sqlite3* db_;
  std::string path_;
  // Looked up by the caller's string_view, without copying the text (a 64-row
  // insert's is ~3 KB) on every execution.
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const {
      return std::hash<std::string_view>{}(text);
    }
  };
  std::unordered_map<std::string, Statement, TextHash, std::equal_to<>> statements_;
};

}  // namespace tether::hub::sql
