// Operator accounts, their API tokens and the audit trail, on the hub's SQL
// database (store.url; on SQLite the same DIR/hub.db as the device registry),
// tables of their own:
//
//   operator_accounts  name, role, PBKDF2 password hash, disabled flag
//   operator_tokens    id, owner, role, label, SHA-256 of the token (never the token)
//   operator_sessions  login sessions: SHA-256 of the cookie (never the cookie),
//                      owner, created and expiry times; shared by every instance
//                      on the same database, so a login outlives its instance
//   audit_log          append-only: triggers refuse UPDATE and DELETE (and, on
//                      PostgreSQL, TRUNCATE)
//
// Accounts, tokens and sessions are few and change rarely: their reads and writes
// are synchronous (an admin's request, a login, a cookie first seen here, the
// command line). Audit events arrive on the traffic
// path: record() queues them and a writer thread inserts them in batches; past
// kMaxQueuedAudit queued events new ones are dropped and counted (never blocks
// the loop). Reads of the trail first wait for what is already queued.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/operators/audit.hpp"
#include "hub/operators/caller.hpp"
#include "hub/store/batch_writer.hpp"
#include "hub/store/sql/database.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

struct Account {
  std::string name;
  Role role = Role::kViewer;
  std::string password_hash;  // "pbkdf2-sha256$..."
  bool disabled = false;
  std::int64_t created_ms = 0;
};

struct ApiToken {
  std::string id;    // public handle (for listing and revoking), not a secret
  std::string user;  // the owning account
  Role role = Role::kViewer;
  std::string label;  // what the owner called it
  std::string token_sha256;
  std::int64_t created_ms = 0;
};

// A login session as stored. The cookie itself is never stored.
struct StoredSession {
  std::string session_sha256;
  std::string user;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
};

struct AuditRecord {
  std::int64_t id = 0;
  AuditEvent event;
};

// Filters of an audit read; empty strings and zero times do not filter.
struct AuditQuery {
  std::string user;
  std::string device;
  std::string action;  // exact, or a prefix ending in '.' ("shell." matches shell.open)
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::int64_t before_id = 0;  // paging: only records older than this id
  std::size_t limit = 200;
};

class SqlOperatorStore final : public AuditSink {
 public:
  static constexpr std::size_t kMaxQueuedAudit = 10000;

  // Opens the store at `url` and brings its schema up to date.
  static Result<std::unique_ptr<SqlOperatorStore>> open(const sql::StoreUrl& url);
  ~SqlOperatorStore() override;
  SqlOperatorStore(const SqlOperatorStore&) = delete;
  SqlOperatorStore& operator=(const SqlOperatorStore&) = delete;

  // --- accounts ---
  Result<std::vector<Account>> accounts();
  // Inserts or replaces the row named account.name.
  Status put_account(const Account& account);
  // Inserts a new account; false when one of that name exists (made meanwhile by
  // another instance), which is left as it was.
  Result<bool> add_account(const Account& account);
  // Removes the account, its tokens and its sessions (in one transaction).
  Status delete_account(const std::string& name);

  // --- tokens ---
  Result<std::vector<ApiToken>> tokens();
  Status put_token(const ApiToken& token);
  Status delete_token(const std::string& id);

  // --- login sessions ---
  // In one transaction: removes expired sessions (of everyone), stores `session`,
  // then removes the oldest sessions of its user past `max_per_account` and the
  // oldest of all past `max_total`.
  Status put_session(const StoredSession& session, std::size_t max_per_account,
                     std::size_t max_total, std::int64_t now_ms);
  // The session with that cookie hash if it exists and has not expired at `now_ms`.
  Result<std::optional<StoredSession>> session(const std::string& session_sha256,
                                               std::int64_t now_ms);
  Status delete_session(const std::string& session_sha256);
  Status delete_sessions_of(const std::string& user);
  // How many sessions are stored (expired ones included until swept), for tests.
  Result<std::size_t> session_count();

  // --- audit ---
  void record(AuditEvent event) override;
  Result<std::vector<AuditRecord>> audit(const AuditQuery& query);
  // Waits until every queued event is written.
  Status flush();
  std::uint64_t audit_dropped() const;

 private:
  SqlOperatorStore(std::unique_ptr<sql::Connection> db, std::unique_ptr<sql::Connection> writer);
  Status write_events(const std::deque<AuditEvent>& events);

  std::unique_ptr<sql::Connection> db_;          // loop thread
  std::unique_ptr<sql::Connection> writer_;      // writer thread
  std::uint64_t dropped_ = 0;                    // under the writer's lock
  BatchWriter<std::deque<AuditEvent>> batches_;  // last: its thread uses the members above
};

}  // namespace tether::hub
