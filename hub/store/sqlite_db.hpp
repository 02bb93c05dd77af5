// The few SQLite pieces every hub store uses: a prepared statement that finalizes
// itself, exec() of plain SQL, and opening a connection. Each store keeps its own
// schema, threads and batching; only this plumbing is shared.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::hub::sqlite {

// A prepared statement. Check ok() after construction; errors carry the
// connection's message after `what`.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  Error error(const std::string& what) const;

  void bind(int i, const std::string& s);
  // nullopt binds NULL.
  void bind(int i, const std::optional<std::string>& s);
  void bind(int i, std::int64_t v);
  void bind(int i, const protocol::Bytes& b);
  int step() { return sqlite3_step(stmt_); }
  // Ready to run again; every parameter is unbound (bind them all again).
  void reset();

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const;
  std::optional<std::string> opt_text(int col) const;
  protocol::Bytes blob(int col) const;
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  // Rows changed by the last statement on this connection.
  int changes() const { return sqlite3_changes(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

// A statement prepared once and kept in `slot` for every later use on the same
// connection (per-record inserts on a writer thread): prepares it when the slot is
// empty or holds a statement that failed to prepare. Reset before each use.
Stmt& cached(std::unique_ptr<Stmt>& slot, sqlite3* db, const char* sql);

// Runs SQL without results (schema, BEGIN/COMMIT, pragmas); kStorageFailure with
// SQLite's message.
Status exec(sqlite3* db, const char* sql);

// Runs `body` between BEGIN IMMEDIATE and COMMIT, rolling back when it or the
// commit fails; errors say they happened while `what` ("writing a config batch").
Status transaction(sqlite3* db, const std::string& what, const std::function<Status()>& body);

// Opens (creating) `path` read-write for one thread's use, waiting up to
// `busy_timeout_ms` for a lock. kStorageFailure naming the path.
Result<sqlite3*> open_connection(const std::string& path, int busy_timeout_ms = 5000);

// The two connections every hub store keeps on STATE_DIR/FILE (WAL): `reader` for
// the loop thread, `writer` for its writer thread. Creates STATE_DIR (0700), runs
// `schema` (CREATE ... IF NOT EXISTS) once, and sets `synchronous` (FULL where a
// commit is a promise to a peer, NORMAL elsewhere) on both connections.
struct StoreConnections {
  sqlite3* reader = nullptr;
  sqlite3* writer = nullptr;
};
Result<StoreConnections> open_store_file(const std::string& state_dir, const std::string& file,
                                         std::initializer_list<const char*> schema,
                                         const char* synchronous, int busy_timeout_ms = 5000);

}  // namespace tether::hub::sqlite
