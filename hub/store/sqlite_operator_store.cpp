#include "hub/store/sqlite_operator_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "hub/store/sqlite_db.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

namespace {

using sqlite::Stmt;

Role role_or_viewer(const std::string& name) {
  return parse_role(name).value_or(Role::kViewer);
}

// Rows the loop reads at once (a page of the audit view or an export chunk).
constexpr std::size_t kMaxAuditRows = 5000;

}  // namespace

Result<std::unique_ptr<SqliteOperatorStore>> SqliteOperatorStore::open(
    const std::string& state_dir) {
  auto conn = sqlite::open_store_file(
      state_dir, "hub.db",
      {
          "CREATE TABLE IF NOT EXISTS operator_accounts ("
          " name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,"
          " disabled INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL)",
          "CREATE TABLE IF NOT EXISTS operator_tokens ("
          " id TEXT PRIMARY KEY, user TEXT NOT NULL, role TEXT NOT NULL, label TEXT NOT NULL,"
          " token_sha256 TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL)",
          "CREATE TABLE IF NOT EXISTS audit_log ("
          " id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, user TEXT NOT NULL,"
          " action TEXT NOT NULL, device TEXT NOT NULL, outcome TEXT NOT NULL,"
          " detail TEXT NOT NULL, address TEXT NOT NULL)",
          "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at_ms)",
          "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log"
          " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
          "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log"
          " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
      },
      "NORMAL", 2000);
  if (!conn.ok()) return conn.error();
  return std::unique_ptr<SqliteOperatorStore>(new SqliteOperatorStore(conn->reader, conn->writer));
}

SqliteOperatorStore::SqliteOperatorStore(sqlite3* db, sqlite3* writer)
    : db_(db),
      writer_(writer),
      batches_({.write = [this](std::deque<AuditEvent>& events) { return write_events(events); }}) {
}

SqliteOperatorStore::~SqliteOperatorStore() {
  batches_.stop();
  sqlite3_close(writer_);
  sqlite3_close(db_);
}

Result<std::vector<Account>> SqliteOperatorStore::accounts() {
  Stmt s(db_,
         "SELECT name, role, password_hash, disabled, created_ms FROM operator_accounts "
         "ORDER BY name");
  if (!s.ok()) return s.error("listing accounts");
  std::vector<Account> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(
        Account{s.text(0), role_or_viewer(s.text(1)), s.text(2), s.int64(3) != 0, s.int64(4)});
  }
  if (rc != SQLITE_DONE) return s.error("listing accounts");
  return out;
}

Status SqliteOperatorStore::put_account(const Account& a) {
  Stmt s(db_,
         "INSERT OR REPLACE INTO operator_accounts(name, role, password_hash, disabled, created_ms)"
         " VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!s.ok()) return s.error("saving account " + a.name);
  s.bind(1, a.name);
  s.bind(2, std::string(role_name(a.role)));
  s.bind(3, a.password_hash);
  s.bind(4, std::int64_t{a.disabled ? 1 : 0});
  s.bind(5, a.created_ms);
  if (s.step() != SQLITE_DONE) return s.error("saving account " + a.name);
  return Status::Ok();
}

Status SqliteOperatorStore::delete_account(const std::string& name) {
  for (const char* sql : {"DELETE FROM operator_tokens WHERE user = ?1",
                          "DELETE FROM operator_accounts WHERE name = ?1"}) {
    Stmt s(db_, sql);
    if (!s.ok()) return s.error("deleting account " + name);
    s.bind(1, name);
    if (s.step() != SQLITE_DONE) return s.error("deleting account " + name);
  }
  return Status::Ok();
}

Result<std::vector<ApiToken>> SqliteOperatorStore::tokens() {
  Stmt s(db_,
         "SELECT id, user, role, label, token_sha256, created_ms FROM operator_tokens "
         "ORDER BY created_ms, id");
  if (!s.ok()) return s.error("listing tokens");
  std::vector<ApiToken> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(ApiToken{s.text(0), s.text(1), role_or_viewer(s.text(2)), s.text(3), s.text(4),
                           s.int64(5)});
  }
  if (rc != SQLITE_DONE) return s.error("listing tokens");
  return out;
}

Status SqliteOperatorStore::put_token(const ApiToken& t) {
  Stmt s(db_,
         "INSERT INTO operator_tokens(id, user, role, label, token_sha256, created_ms)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s.ok()) return s.error("saving a token");
  s.bind(1, t.id);
  s.bind(2, t.user);
  s.bind(3, std::string(role_name(t.role)));
  s.bind(4, t.label);
  s.bind(5, t.token_sha256);
  s.bind(6, t.created_ms);
  if (s.step() != SQLITE_DONE) return s.error("saving a token");
  return Status::Ok();
}

Status SqliteOperatorStore::delete_token(const std::string& id) {
  Stmt s(db_, "DELETE FROM operator_tokens WHERE id = ?1");
  if (!s.ok()) return s.error("revoking a token");
  s.bind(1, id);
  if (s.step() != SQLITE_DONE) return s.error("revoking a token");
  return Status::Ok();
}

void SqliteOperatorStore::record(AuditEvent event) {
  if (event.at_ms == 0) event.at_ms = now_ms();
  batches_.queue([this, &event](std::deque<AuditEvent>& queued) {
    if (queued.size() >= kMaxQueuedAudit) {
      ++dropped_;
      return false;
    }
    queued.push_back(std::move(event));
    return true;
  });
}

std::uint64_t SqliteOperatorStore::audit_dropped() const {
  return batches_.inspect([this](const auto&, const auto&) { return dropped_; });
}

Status SqliteOperatorStore::flush() {
  return batches_.flush();
}

Status SqliteOperatorStore::write_events(const std::deque<AuditEvent>& events) {
  return sqlite::transaction(writer_, "writing audit", [&]() -> Status {
    Stmt s(writer_,
           "INSERT INTO audit_log(at_ms, user, action, device, outcome, detail, address)"
           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!s.ok()) return s.error("writing audit");
    for (const auto& e : events) {
      s.reset();
      s.bind(1, e.at_ms);
      s.bind(2, e.user);
      s.bind(3, e.action);
      s.bind(4, e.device);
      s.bind(5, e.outcome);
      s.bind(6, e.detail);
      s.bind(7, e.address);
      if (s.step() != SQLITE_DONE) return s.error("writing audit");
    }
    return Status::Ok();
  });
}

Result<std::vector<AuditRecord>> SqliteOperatorStore::audit(const AuditQuery& q) {
  (void)flush();
  std::string sql =
      "SELECT id, at_ms, user, action, device, outcome, detail, address FROM audit_log WHERE 1";
  if (!q.user.empty()) sql += " AND user = ?1";
  if (!q.device.empty()) sql += " AND device = ?2";
  if (!q.action.empty()) {
    sql += q.action.back() == '.' ? " AND substr(action, 1, length(?3)) = ?3" : " AND action = ?3";
  }
  if (q.from_ms != 0) sql += " AND at_ms >= ?4";
  if (q.to_ms != 0) sql += " AND at_ms <= ?5";
  if (q.before_id != 0) sql += " AND id < ?6";
  sql += " ORDER BY id DESC LIMIT ?7";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return s.error("reading the audit trail");
  s.bind(1, q.user);
  s.bind(2, q.device);
  s.bind(3, q.action);
  s.bind(4, q.from_ms);
  s.bind(5, q.to_ms);
  s.bind(6, q.before_id);
  s.bind(7, static_cast<std::int64_t>(std::min(q.limit, kMaxAuditRows)));
  std::vector<AuditRecord> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    AuditRecord r;
    r.id = s.int64(0);
    r.event =
        AuditEvent{s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.text(7), s.int64(1)};
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return s.error("reading the audit trail");
  return out;
}

}  // namespace tether::hub
