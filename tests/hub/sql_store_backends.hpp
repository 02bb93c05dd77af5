// The back ends every SQL store test runs on, and a fresh, empty store for one
// test on one of them: SQLite in a directory of its own, removed after the test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "hub/store/sql/database.hpp"

namespace tether::hub::testing {

inline auto all_back_ends() {
  return ::testing::Values(sql::Dialect::kSqlite);
}

inline std::string back_end_name(const ::testing::TestParamInfo<sql::Dialect>& info) {
  return info.param == sql::Dialect::kSqlite ? "Sqlite" : "Postgres";
}

class ScratchStore {
 public:
  explicit ScratchStore(sql::Dialect dialect) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hub-sql-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
    (void)dialect;
    url_.dialect = sql::Dialect::kSqlite;
    url_.sqlite_dir = (dir_ / "state").string();
    url_.redacted = "sqlite:" + url_.sqlite_dir;
  }
  ~ScratchStore() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ScratchStore(const ScratchStore&) = delete;
  ScratchStore& operator=(const ScratchStore&) = delete;

  const sql::StoreUrl& url() const { return url_; }

 private:
  std::filesystem::path dir_;
  sql::StoreUrl url_;
};

}  // namespace tether::hub::testing
