// Writes a SQLite file the way a hub from before the SQL port did (its own schema
// text, raw sqlite3), so that store tests can check an existing state dir still opens.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <initializer_list>
#include <string>

namespace tether::hub::testing {

// Runs each statement on `file` (created, with its directory); "" on success, else
// SQLite's message.
inline std::string write_legacy_sqlite(const std::filesystem::path& file,
                                       std::initializer_list<const char*> statements) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) return ec.message();
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return why;
  }
  std::string why;
  for (const char* sql : statements) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      why = std::string(sql) + ": " + (err ? err : "unknown error");
      sqlite3_free(err);
      break;
    }
  }
  sqlite3_close(db);
  return why;
}

}  // namespace tether::hub::testing
