// Operator accounts, their API tokens and the audit trail, on the hub's SQL
// database (store.url; on SQLite the same DIR/hub.db as the device registry),
// tables of their own:
//
//   operator_accounts  name, role, PBKDF2 password hash, disabled flag
//   operator_tokens    id, owner, role, label, SHA-256 of the token (never the token)
//   audit_log          append-only: triggers refuse UPDATE and DELETE (and, on
//                      PostgreSQL, TRUNCATE)
//
// Accounts and tokens are few and change rarely: their writes are synchronous
// (an admin's request, the command line). Audit events arrive on the traffic
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
  // Removes the account and its tokens (in one transaction).
  Status delete_account(const std::string& name);

  // --- tokens ---
  Result<std::vector<ApiToken>> tokens();
  Status put_token(const ApiToken& token);
  Status delete_token(const std::string& id);

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
