#include "tests/support/sql_store.hpp"

namespace tether::test {

std::string sql_backend_name(const ::testing::TestParamInfo<SqlBackend>& info) {
  return info.param == SqlBackend::kSqlite ? "Sqlite" : "Postgres";
}

Result<std::unique_ptr<SqlTestStore>> SqlTestStore::create(SqlBackend backend) {
  std::unique_ptr<SqlTestStore> store(new SqlTestStore());
  std::string url;
  if (backend == SqlBackend::kSqlite) {
    store->dir_.emplace();
    url = "sqlite:" + (store->dir_->path() / "state").string();
  } else {
    auto server = shared_postgres();
    if (!server.ok()) return server.error();
    store->postgres_ = *server;
    auto database = (*server)->create_database();
    if (!database.ok()) return database.error();
    url = *database;
  }
  auto parsed = hub::sql::parse_store_url(url);
  if (!parsed.ok()) return parsed.error();
  store->url_ = *parsed;
  return store;
}

Result<std::unique_ptr<hub::sql::Connection>> SqlTestStore::connect(
    const std::string& sqlite_file) const {
  return hub::sql::connect(url_, hub::sql::ConnectOptions{.sqlite_file = sqlite_file});
}

}  // namespace tether::test
