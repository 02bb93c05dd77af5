// The PostgreSQL back end of sql::Connection (libpq). Statements are prepared
// once per connection (PQprepare) and kept by their text and parameter types.
//
// Losing the server: a call that fails on a broken connection returns
// kUnavailable, and the next call reconnects first (PQreset, which drops the
// prepared statements), so a store picks up by itself once PostgreSQL is back.
#pragma once

#include <libpq-fe.h>

#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "hub/store/sql/database.hpp"

namespace tether::hub::sql {

class PostgresConnection final : public Connection {
 public:
  // kUnavailable when the server cannot be reached or refuses the login; the
  // message names the redacted URL, never the password.
  static Result<std::unique_ptr<Connection>> open(const StoreUrl& url);
  ~PostgresConnection() override;
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  Dialect dialect() const override { return Dialect::kPostgres; }
  Status exec(std::string_view sql) override;
  Result<Rows> query(std::string_view sql, const Param* params, std::size_t count) override;
  Result<std::int64_t> run(std::string_view sql, const Param* params, std::size_t count) override;
  Status begin() override;

 private:
  struct ClearResult {
    void operator()(PGresult* result) const { PQclear(result); }
  };
  using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

  PostgresConnection(PGconn* conn, std::string redacted, std::string password)
      : conn_(conn), redacted_(std::move(redacted)), password_(std::move(password)) {}

  // Reconnects when the last call found the connection broken. A transaction
  // open at the time is gone with it: until the caller's ROLLBACK (or COMMIT,
  // which then fails), calls fail rather than run outside it on the new session.
  Status ensure_connected();
  // Notes whether the session is inside a transaction, while it is connected.
  void note_transaction_state();
  // Prepares (once) and runs one statement; the result is a success.
  Result<ResultPtr> execute(std::string_view sql, const Param* params, std::size_t count);
  // The error of a failed call, kUnavailable when the connection is gone (and
  // then the next call reconnects).
  Error failure(const PGresult* result, std::string_view sql);
  // `message` with any occurrence of the password replaced.
  std::string scrub(std::string message) const;

  PGconn* conn_;
  std::string redacted_;
  std::string password_;
  bool reconnect_ = false;
  bool in_transaction_ = false;
  bool lost_transaction_ = false;
  // Statement name by SQL text, a NUL, then the parameters' type Oids (raw bytes).
  std::unordered_map<std::string, std::string> statements_;
  // execute()'s working vectors, reused from call to call.
  struct Scratch {
    std::string key;
    std::vector<Oid> types;
    std::vector<std::array<char, 8>> numbers;
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
  } scratch_;
};

}  // namespace tether::hub::sql
