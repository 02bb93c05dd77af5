// A fresh, empty hub store for one test, on either SQL back end, so that a store's
// tests run unchanged against SQLite and PostgreSQL:
//
//   class MyStoreTest : public ::testing::TestWithParam<test::SqlBackend> {};
//   TEST_P(MyStoreTest, Works) {
//     auto store = test::SqlTestStore::create(GetParam());
//     ASSERT_TRUE(store.ok()) << store.error().message();
//     auto db = (*store)->connect("my.db");  // or hub::sql::connect((*store)->url(), ...)
//     ...
//   }
//   INSTANTIATE_TEST_SUITE_P(Backends, MyStoreTest, test::kBothSqlBackends,
//                            test::sql_backend_name);
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "hub/store/sql/database.hpp"
#include "protocol/result.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace tether::test {

enum class SqlBackend { kSqlite, kPostgres };

inline const auto kBothSqlBackends = ::testing::Values(SqlBackend::kSqlite, SqlBackend::kPostgres);

// "Sqlite" / "Postgres", for INSTANTIATE_TEST_SUITE_P's test names.
std::string sql_backend_name(const ::testing::TestParamInfo<SqlBackend>& info);

class SqlTestStore {
 public:
  // SQLite: a new temp directory (removed with the object). PostgreSQL: a new
  // database on the binary's shared private server (shared_postgres(), started on
  // first use). An error when PostgreSQL cannot be started: tests fail on it.
  static Result<std::unique_ptr<SqlTestStore>> create(SqlBackend backend);

  const hub::sql::StoreUrl& url() const { return url_; }
  // A new connection to the store (`sqlite_file` names the SQLite file; the
  // PostgreSQL database is the same for every name).
  Result<std::unique_ptr<hub::sql::Connection>> connect(
      const std::string& sqlite_file = "test.db") const;
  // The shared server, for tests that restart or stop it; nullptr for SQLite.
  PostgresServer* postgres() const { return postgres_; }

 private:
  SqlTestStore() = default;

  std::optional<TempDir> dir_;
  PostgresServer* postgres_ = nullptr;
  hub::sql::StoreUrl url_;
};

}  // namespace tether::test
