#include "hub/store/sql_operator_store.hpp"

#include <algorithm>
#include <utility>

#include "hub/store/again_if_unavailable.hpp"
#include "hub/store/sql_store_connections.hpp"
#include "hub/store/storable_text.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

namespace {

Role role_or_viewer(const std::string& name) {
  return parse_role(name).value_or(Role::kViewer);
}

// Rows the loop reads at once (a page of the audit view or an export chunk).
constexpr std::size_t kMaxAuditRows = 5000;

// Version 1 is the schema hub.db has always had (CREATE ... IF NOT EXISTS), so an
// existing state directory opens unchanged. "user" is quoted: PostgreSQL reserves
// the word (SQLite reads the quoted name as the same column). The append-only
// rule is a trigger in each dialect's own form.
std::vector<sql::Migration> migrations(sql::Dialect dialect) {
  std::vector<std::string> schema = {
      "CREATE TABLE IF NOT EXISTS operator_accounts ("
      " name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,"
      " disabled INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL)",
      "CREATE TABLE IF NOT EXISTS operator_tokens ("
      " id TEXT PRIMARY KEY, \"user\" TEXT NOT NULL, role TEXT NOT NULL, label TEXT NOT NULL,"
      " token_sha256 TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL)",
      "CREATE TABLE IF NOT EXISTS audit_log ("
      " id AUTO_ID, at_ms INTEGER NOT NULL, \"user\" TEXT NOT NULL,"
      " action TEXT NOT NULL, device TEXT NOT NULL, outcome TEXT NOT NULL,"
      " detail TEXT NOT NULL, address TEXT NOT NULL)",
      "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at_ms)",
  };
  if (dialect == sql::Dialect::kSqlite) {
    schema.emplace_back(
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log"
        " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END");
    schema.emplace_back(
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log"
        " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END");
  } else {
    // A statement trigger: refuses even an UPDATE or DELETE that matches no row,
    // and TRUNCATE, which row triggers never see.
    schema.emplace_back(
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger"
        " LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION ''the audit log is append-only''; END'");
    schema.emplace_back(
        "CREATE OR REPLACE TRIGGER audit_log_append_only"
        " BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()");
  }
  // Version 2: login sessions, shared by the instances on one database.
  std::vector<std::string> sessions = {
      "CREATE TABLE IF NOT EXISTS operator_sessions ("
      " session_sha256 TEXT PRIMARY KEY, \"user\" TEXT NOT NULL,"
      " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL)",
      "CREATE INDEX IF NOT EXISTS operator_sessions_user ON operator_sessions(\"user\")",
      "CREATE INDEX IF NOT EXISTS operator_sessions_expires ON operator_sessions(expires_ms)",
  };
  return {{1, std::move(schema)}, {2, std::move(sessions)}};
}

}  // namespace

Result<std::unique_ptr<SqlOperatorStore>> SqlOperatorStore::open(const sql::StoreUrl& url) {
  auto conn = open_store_connections(
      url, "operators", {.sqlite_file = "hub.db", .synchronous = "NORMAL", .busy_timeout_ms = 2000},
      migrations(url.dialect));
  if (!conn.ok()) return conn.error();
  return std::unique_ptr<SqlOperatorStore>(
      new SqlOperatorStore(std::move(conn->reader), std::move(conn->writer)));
}

SqlOperatorStore::SqlOperatorStore(std::unique_ptr<sql::Connection> db,
                                   std::unique_ptr<sql::Connection> writer)
    : db_(std::move(db)),
      writer_(std::move(writer)),
      batches_({.write = [this](std::deque<AuditEvent>& events) { return write_events(events); }}) {
}

SqlOperatorStore::~SqlOperatorStore() {
  batches_.stop();
}

Result<std::vector<Account>> SqlOperatorStore::accounts() {
  auto rows = again_if_unavailable([&] {
    return db_->query(
        "SELECT name, role, password_hash, disabled, created_ms FROM operator_accounts "
        "ORDER BY name");
  });
  if (!rows.ok()) return rows.error().wrap("listing accounts");
  std::vector<Account> out;
  out.reserve(rows->size());
  for (const sql::Row& s : *rows) {
    out.push_back(
        Account{s.text(0), role_or_viewer(s.text(1)), s.text(2), s.int64(3) != 0, s.int64(4)});
  }
  return out;
}

Status SqlOperatorStore::put_account(const Account& a) {
  auto put = again_if_unavailable([&] {
    return db_->run(
        "INSERT INTO operator_accounts(name, role, password_hash, disabled, created_ms)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT(name) DO UPDATE SET role = excluded.role,"
        " password_hash = excluded.password_hash, disabled = excluded.disabled,"
        " created_ms = excluded.created_ms",
        {a.name, role_name(a.role), a.password_hash, a.disabled ? 1 : 0, a.created_ms});
  });
  if (!put.ok()) return put.error().wrap("saving account " + a.name);
  return Status::Ok();
}

Result<bool> SqlOperatorStore::add_account(const Account& a) {
  auto added = again_if_unavailable([&] {
    return db_->run(
        "INSERT INTO operator_accounts(name, role, password_hash, disabled, created_ms)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT(name) DO NOTHING",
        {a.name, role_name(a.role), a.password_hash, a.disabled ? 1 : 0, a.created_ms});
  });
  if (!added.ok()) return added.error().wrap("saving account " + a.name);
  return *added == 1;
}

Status SqlOperatorStore::delete_account(const std::string& name) {
  return again_if_unavailable([&] {
    return sql::transaction(*db_, "deleting account " + name, [&]() -> Status {
      for (const char* sql : {"DELETE FROM operator_tokens WHERE \"user\" = $1",
                              "DELETE FROM operator_sessions WHERE \"user\" = $1",
                              "DELETE FROM operator_accounts WHERE name = $1"}) {
        if (auto deleted = db_->run(sql, {name}); !deleted.ok()) return deleted.error();
      }
      return Status::Ok();
    });
  });
}

Result<std::vector<ApiToken>> SqlOperatorStore::tokens() {
  auto rows = again_if_unavailable([&] {
    return db_->query(
        "SELECT id, \"user\", role, label, token_sha256, created_ms FROM operator_tokens "
        "ORDER BY created_ms, id");
  });
  if (!rows.ok()) return rows.error().wrap("listing tokens");
  std::vector<ApiToken> out;
  out.reserve(rows->size());
  for (const sql::Row& s : *rows) {
    out.push_back(ApiToken{s.text(0), s.text(1), role_or_viewer(s.text(2)), s.text(3), s.text(4),
                           s.int64(5)});
  }
  return out;
}

Status SqlOperatorStore::put_token(const ApiToken& token) {
  ApiToken t = token;
  make_storable(t.label);  // the owner's words
  auto put = again_if_unavailable([&] {
    return db_->run(
        "INSERT INTO operator_tokens(id, \"user\", role, label, token_sha256, created_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        {t.id, t.user, role_name(t.role), t.label, t.token_sha256, t.created_ms});
  });
  if (!put.ok()) return put.error().wrap("saving a token");
  return Status::Ok();
}

Status SqlOperatorStore::delete_token(const std::string& id) {
  auto deleted = again_if_unavailable(
      [&] { return db_->run("DELETE FROM operator_tokens WHERE id = $1", {id}); });
  if (!deleted.ok()) return deleted.error().wrap("revoking a token");
  return Status::Ok();
}

Status SqlOperatorStore::put_session(const StoredSession& s, std::size_t max_per_account,
                                     std::size_t max_total, std::int64_t now_ms) {
  const auto per_account = static_cast<std::int64_t>(max_per_account);
  const auto total = static_cast<std::int64_t>(max_total);
  return again_if_unavailable([&] {
    return sql::transaction(*db_, "saving a login session", [&]() -> Status {
      if (auto swept = db_->run("DELETE FROM operator_sessions WHERE expires_ms <= $1", {now_ms});
          !swept.ok()) {
        return swept.error();
      }
      if (auto put = db_->run(
              "INSERT INTO operator_sessions(session_sha256, \"user\", created_ms, expires_ms)"
              " VALUES ($1, $2, $3, $4)",
              {s.session_sha256, s.user, s.created_ms, s.expires_ms});
          !put.ok()) {
        return put.error();
      }
      // The newest ones stay; ties by hash, so that every engine keeps the same.
      if (auto trimmed =
              db_->run("DELETE FROM operator_sessions WHERE \"user\" = $1 AND session_sha256 NOT IN"
                       " (SELECT session_sha256 FROM operator_sessions WHERE \"user\" = $1"
                       " ORDER BY created_ms DESC, session_sha256 DESC LIMIT $2)",
                       {s.user, per_account});
          !trimmed.ok()) {
        return trimmed.error();
      }
      if (auto trimmed = db_->run("DELETE FROM operator_sessions WHERE session_sha256 NOT IN"
                                  " (SELECT session_sha256 FROM operator_sessions"
                                  " ORDER BY created_ms DESC, session_sha256 DESC LIMIT $1)",
                                  {total});
          !trimmed.ok()) {
        return trimmed.error();
      }
      return Status::Ok();
    });
  });
}

Result<std::optional<StoredSession>> SqlOperatorStore::session(const std::string& session_sha256,
                                                               std::int64_t now_ms) {
  auto rows = again_if_unavailable([&] {
    return db_->query(
        "SELECT session_sha256, \"user\", created_ms, expires_ms FROM operator_sessions"
        " WHERE session_sha256 = $1 AND expires_ms > $2",
        {session_sha256, now_ms});
  });
  if (!rows.ok()) return rows.error().wrap("reading a login session");
  if (rows->empty()) return std::optional<StoredSession>();
  const sql::Row& r = rows->front();
  return std::optional<StoredSession>(StoredSession{r.text(0), r.text(1), r.int64(2), r.int64(3)});
}

Status SqlOperatorStore::delete_session(const std::string& session_sha256) {
  auto deleted = again_if_unavailable([&] {
    return db_->run("DELETE FROM operator_sessions WHERE session_sha256 = $1", {session_sha256});
  });
  if (!deleted.ok()) return deleted.error().wrap("ending a login session");
  return Status::Ok();
}

Status SqlOperatorStore::delete_sessions_of(const std::string& user) {
  auto deleted = again_if_unavailable(
      [&] { return db_->run("DELETE FROM operator_sessions WHERE \"user\" = $1", {user}); });
  if (!deleted.ok()) return deleted.error().wrap("ending the login sessions of " + user);
  return Status::Ok();
}

Result<std::size_t> SqlOperatorStore::session_count() {
  auto rows =
      again_if_unavailable([&] { return db_->query("SELECT COUNT(*) FROM operator_sessions"); });
  if (!rows.ok()) return rows.error().wrap("counting login sessions");
  return rows->empty() ? std::size_t{0} : static_cast<std::size_t>(rows->front().int64(0));
}

void SqlOperatorStore::record(AuditEvent event) {
  if (event.at_ms == 0) event.at_ms = now_ms();
  for (std::string* text :
       {&event.user, &event.action, &event.device, &event.outcome, &event.detail, &event.address}) {
    make_storable(*text);
  }
  batches_.queue([this, &event](std::deque<AuditEvent>& queued) {
    if (queued.size() >= kMaxQueuedAudit) {
      ++dropped_;
      return false;
    }
    queued.push_back(std::move(event));
    return true;
  });
}

std::uint64_t SqlOperatorStore::audit_dropped() const {
  return batches_.inspect([this](const auto&, const auto&) { return dropped_; });
}

Status SqlOperatorStore::flush() {
  return batches_.flush();
}

Status SqlOperatorStore::write_events(const std::deque<AuditEvent>& events) {
  return again_if_unavailable([&] {
    return sql::transaction(*writer_, "writing audit", [&]() -> Status {
      for (const auto& e : events) {
        auto written = writer_->run(
            "INSERT INTO audit_log(at_ms, \"user\", action, device, outcome, detail, address)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            {e.at_ms, e.user, e.action, e.device, e.outcome, e.detail, e.address});
        if (!written.ok()) return written.error();
      }
      return Status::Ok();
    });
  });
}

Result<std::vector<AuditRecord>> SqlOperatorStore::audit(const AuditQuery& q) {
  (void)flush();
  // Only the filters asked for, each with the next parameter number.
  std::string sql =
      "SELECT id, at_ms, \"user\", action, device, outcome, detail, address FROM audit_log";
  std::vector<sql::Param> params;
  const char* glue = " WHERE ";
  auto filter = [&](const std::string& condition, sql::Param value) {
    params.push_back(value);
    std::string numbered = condition;
    const std::string n = "$" + std::to_string(params.size());
    for (auto at = numbered.find('?'); at != std::string::npos; at = numbered.find('?', at)) {
      numbered.replace(at, 1, n);
    }
    sql += glue + numbered;
    glue = " AND ";
  };
  if (!q.user.empty()) filter("\"user\" = ?", q.user);
  if (!q.device.empty()) filter("device = ?", q.device);
  if (!q.action.empty()) {
    filter(q.action.back() == '.' ? "substr(action, 1, length(?)) = ?" : "action = ?", q.action);
  }
  if (q.from_ms != 0) filter("at_ms >= ?", q.from_ms);
  if (q.to_ms != 0) filter("at_ms <= ?", q.to_ms);
  if (q.before_id != 0) filter("id < ?", q.before_id);
  params.emplace_back(static_cast<std::int64_t>(std::min(q.limit, kMaxAuditRows)));
  sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
  auto rows = again_if_unavailable([&] { return db_->query(sql, params); });
  if (!rows.ok()) return rows.error().wrap("reading the audit trail");
  std::vector<AuditRecord> out;
  out.reserve(rows->size());
  for (const sql::Row& s : *rows) {
    AuditRecord r;
    r.id = s.int64(0);
    r.event =
        AuditEvent{s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.text(7), s.int64(1)};
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace tether::hub
