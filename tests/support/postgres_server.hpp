// A private PostgreSQL 15 server for tests: initdb into a temp dir, postgres on a
// unix socket in that dir and 127.0.0.1:<free port>, password login over TCP.
// Runs as the `postgres` system user when the test runs as root (PostgreSQL
// refuses root). The destructor stops it and removes every file.
//
// The server process gets SIGKILL when the thread that started it exits (so a
// crashed test leaves no server behind): start it from the test's main thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "protocol/result.hpp"
#include "tests/support/temp_dir.hpp"

namespace tether::test {

class PostgresServer {
 public:
  // kUnavailable naming what is missing when the binaries are not installed
  // (scripts/setup installs them) or the server does not come up (with its log).
  static Result<std::unique_ptr<PostgresServer>> start();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // A new, empty database ("t1", "t2", ...) and its URL.
  Result<std::string> create_database();
  // postgresql://postgres:PASSWORD@127.0.0.1:PORT/DATABASE
  std::string url(const std::string& database) const;
  const std::string& password() const { return password_; }
  int port() const { return port_; }

  // Fast shutdown (clients are disconnected), and start again on the same data
  // directory and port: what a store sees when PostgreSQL restarts.
  Status stop();
  Status start_again();
  Status restart();

 private:
  PostgresServer() = default;
  Status launch();

  TempDir dir_;
  std::string data_dir_;
  std::string password_;
  int port_ = 0;
  pid_t pid_ = -1;
  int databases_ = 0;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool switch_user_ = false;
};

// One server per test binary, started on first use and stopped at exit, for the
// tests that each want a fresh database rather than a server of their own.
Result<PostgresServer*> shared_postgres();

}  // namespace tether::test
