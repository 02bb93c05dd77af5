#include "hub/store/sql/database.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>

#include "hub/store/sql/dialect_text.hpp"
#include "hub/store/sql/postgres_connection.hpp"
#include "hub/store/sql/sqlite_connection.hpp"

namespace tether::hub::sql {
namespace {

constexpr std::size_t kMaxStoreUrl = 4096;
constexpr std::string_view kSqliteScheme = "sqlite:";

// Whatever follows "scheme://" up to the first '/', '?' or '#': user:password@host:port.
std::string redact_postgres(std::string_view url, std::string* password) {
  std::string out(url);
  const std::size_t authority = out.find("://");
  if (authority != std::string::npos) {
    const std::size_t begin = authority + 3;
    const std::size_t end = std::min(out.find_first_of("/?#", begin), out.size());
    const std::size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= begin) {
      const std::size_t colon = out.find(':', begin);
      if (colon != std::string::npos && colon < at) {
        if (password) *password = out.substr(colon + 1, at - colon - 1);
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // password=... in the query string.
  const std::size_t query = out.find('?');
  if (query != std::string::npos) {
    std::size_t pos = query + 1;
    while (pos < out.size()) {
      std::size_t end = out.find('&', pos);
      if (end == std::string::npos) end = out.size();
      constexpr std::string_view kKey = "password=";
      if (std::string_view(out).substr(pos, kKey.size()) == kKey) {
        const std::size_t value = pos + kKey.size();
        if (password) *password = out.substr(value, end - value);
        out.replace(value, end - value, "***");
        end = value + 3;
      }
      pos = end + 1;
    }
  }
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One key for every store's migrations: they are rare and short, and one lock
// cannot deadlock with another.
constexpr std::int64_t kMigrationLockKey = 0x7e7e'5c4e'0019;

}  // namespace

Status transaction(Connection& db, const std::string& what, const std::function<Status()>& body) {
  if (auto s = db.begin(); !s.ok()) return s.error().wrap(what);
  if (auto s = body(); !s.ok()) {
    (void)db.rollback();
    return s.error().wrap(what);
  }
  if (auto s = db.commit(); !s.ok()) {
    (void)db.rollback();
    return s.error().wrap("committing: " + what);
  }
  return Status::Ok();
}

Result<StoreUrl> parse_store_url(std::string_view url) {
  if (url.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "store.url is empty (use sqlite:DIR or postgresql://...)");
  }
  if (url.size() > kMaxStoreUrl) {
    return Error(ErrorCode::kInvalidArgument, "store.url is " + std::to_string(url.size()) +
                                                  " bytes long, more than " +
                                                  std::to_string(kMaxStoreUrl));
  }
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return Error(ErrorCode::kInvalidArgument, "store.url contains control characters");
  }
  StoreUrl out;
  if (url.substr(0, kSqliteScheme.size()) == kSqliteScheme) {
    out.dialect = Dialect::kSqlite;
    out.sqlite_dir = std::string(url.substr(kSqliteScheme.size()));
    if (out.sqlite_dir.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "store.url sqlite: names no directory (use sqlite:DIR)");
    }
    out.redacted = std::string(url);
    return out;
  }
  const std::size_t colon = url.find(':');
  const std::string_view scheme = url.substr(0, colon == std::string_view::npos ? 0 : colon);
  if (colon == std::string_view::npos || (scheme != "postgresql" && scheme != "postgres") ||
      url.substr(colon, 3) != "://") {
    // Only the scheme is named: the rest could hold a password.
    const std::string shown =
        colon == std::string_view::npos ? "no scheme" : "'" + std::string(scheme) + ":'";
    return Error(ErrorCode::kInvalidArgument,
                 "store.url must be sqlite:DIR or postgresql://..., got " + shown);
  }
  std::string password;
  out.dialect = Dialect::kPostgres;
  out.postgres = std::string(url);
  out.redacted = redact_postgres(url, &password);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(out.postgres.c_str(), &error);
  if (!options) {
    std::string message = error ? error : "out of memory";
    PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    if (!password.empty()) {
      for (std::size_t at = message.find(password); at != std::string::npos;
           at = message.find(password, at)) {
        message.replace(at, password.size(), "***");
      }
    }
    return Error(ErrorCode::kInvalidArgument,
                 "store.url " + out.redacted + " is not a PostgreSQL URL: " + message);
  }
  PQconninfoFree(options);
  return out;
}

Result<std::unique_ptr<Connection>> connect(const StoreUrl& url, const ConnectOptions& options) {
  if (url.dialect == Dialect::kPostgres) return PostgresConnection::open(url);
  return SqliteConnection::open(url.sqlite_dir, options);
}

Status migrate(Connection& db, std::string_view store, const std::vector<Migration>& migrations) {
  const std::string name(store);
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version <= (i == 0 ? 0 : migrations[i - 1].version)) {
      return Error(ErrorCode::kInternal,
                   "migrations of the " + name + " store must have increasing versions from 1");
    }
  }
  const std::int64_t newest = migrations.empty() ? 0 : migrations.back().version;
  const std::string create_table = schema_for(
      db.dialect(),
      "CREATE TABLE IF NOT EXISTS schema_migrations (store TEXT NOT NULL, version INTEGER NOT "
      "NULL, applied_ms INTEGER NOT NULL, PRIMARY KEY (store, version))");
  // One migration per transaction: a failure leaves the versions before it
  // applied and recorded, and the next start resumes there.
  for (;;) {
    bool up_to_date = false;
    std::string what = "migrating the " + name + " schema";
    auto step = [&]() -> Status {
      if (db.dialect() == Dialect::kPostgres) {
        // Several instances starting at once queue here; each then sees the
        // versions the others recorded.
        if (auto r = db.query("SELECT pg_advisory_xact_lock($1)", {kMigrationLockKey}); !r.ok()) {
          return r.error();
        }
      }
      if (auto s = db.exec(create_table); !s.ok()) return s;
      auto current = db.query(
          "SELECT COALESCE(MAX(version), 0) FROM schema_migrations "
          "WHERE store = $1",
          {store});
      if (!current.ok()) return current.error();
      const std::int64_t version = current->empty() ? 0 : current->front().int64(0);
      if (version > newest) {
        return Error(ErrorCode::kStorageFailure,
                     "the database is at version " + std::to_string(version) + " of the " + name +
                         " schema, newer than this build knows (" + std::to_string(newest) +
                         "): was it upgraded by a newer tether-hub?");
      }
      const auto next = std::find_if(migrations.begin(), migrations.end(),
                                     [&](const Migration& m) { return m.version > version; });
      if (next == migrations.end()) {
        up_to_date = true;
        return Status::Ok();
      }
      what += " to version " + std::to_string(next->version);
      for (const std::string& statement : next->statements) {
        if (auto s = db.exec(schema_for(db.dialect(), statement)); !s.ok()) return s;
      }
      auto recorded =
          db.run("INSERT INTO schema_migrations (store, version, applied_ms) VALUES ($1, $2, $3)",
                 {store, next->version, now_ms()});
      if (!recorded.ok()) return recorded.error();
      return Status::Ok();
    };
    if (auto s = transaction(db, what, step); !s.ok()) return s;
    if (up_to_date) return Status::Ok();
  }
}

}  // namespace tether::hub::sql
