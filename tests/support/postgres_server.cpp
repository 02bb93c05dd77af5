#include "tests/support/postgres_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace tether::test {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr auto kStartTimeout = std::chrono::seconds(60);

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
Result<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Error(ErrorCode::kIo, "socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Error(ErrorCode::kIo, "binding a free port failed");
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string tail_of(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  constexpr std::size_t kTail = 2000;
  return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

struct Identity {
  bool switch_user;
  uid_t uid;
  gid_t gid;
};

// Forks and execs `argv` as `who`, stdout and stderr appended to `log`. The child
// gets SIGKILL when this thread exits.
Result<pid_t> spawn(const Identity& who, const std::vector<std::string>& argv,
                    const std::string& log) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return Error(ErrorCode::kIo, "opening " + log);
  if (who.switch_user) (void)::fchown(out, who.uid, who.gid);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out);
    return Error(ErrorCode::kIo, "fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::setsid();
    if (who.switch_user &&
        (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0)) {
      ::_exit(126);
    }
    // After the identity change, which clears it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out);
  return pid;
}

// Runs a program to completion; kUnavailable with its log when it fails.
Status run_to_end(const Identity& who, const std::vector<std::string>& argv,
                  const std::string& log) {
  auto pid = spawn(who, argv, log);
  if (!pid.ok()) return pid.error();
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(ErrorCode::kUnavailable, argv[0] + " failed: " + tail_of(log));
  }
  return Status::Ok();
}

// The password of the `postgres` role over TCP. Fixed, since it is part of the
// cached cluster below; the server only listens on 127.0.0.1 while a test runs.
constexpr const char* kPassword = "tether-test-password";

// A fresh cluster to copy, made by initdb once per machine and user (initdb
// takes seconds on a loaded machine; a copy takes a fraction of that, and every
// test case is its own process). Built aside and renamed into place, so a
// concurrent test sees either nothing or the whole of it. Kept under $TMPDIR.
Result<std::string> template_cluster(const Identity& who) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("tether-pg15-template-v2-" + std::to_string(::geteuid()));
  std::error_code ec;
  if (std::filesystem::exists(path / "data" / "PG_VERSION", ec)) return path.string();
  std::string pattern = path.string() + ".XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Error(ErrorCode::kIo, "mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  const std::filesystem::path building(pattern);
  auto fail = [&](const Error& error) -> Result<std::string> {
    std::filesystem::remove_all(building, ec);
    return error;
  };
  if (who.switch_user && ::chown(building.c_str(), who.uid, who.gid) != 0) {
    return fail(Error(ErrorCode::kIo, "chown of " + building.string() + " to postgres"));
  }
  const std::string pwfile = (building / "pwfile").string();
  {
    std::ofstream out(pwfile);
    out << kPassword << "\n";
  }
  if (who.switch_user) (void)::chown(pwfile.c_str(), who.uid, who.gid);
  // --no-sync: test data; the servers themselves run with fsync on.
  if (auto s = run_to_end(
          who,
          {std::string(kBinDir) + "/initdb", "-D", (building / "data").string(), "-U", "postgres",
           "--pwfile=" + pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
           "--locale=C", "--no-sync", "--wal-segsize=1"},
          (building / "initdb.log").string());
      !s.ok()) {
    return fail(s.error());
  }
  std::filesystem::remove(pwfile, ec);
  if (::rename(building.c_str(), path.c_str()) != 0) {
    // Another test got there first: use its cluster.
    std::filesystem::remove_all(building, ec);
    if (!std::filesystem::exists(path / "data" / "PG_VERSION", ec)) {
      return Error(ErrorCode::kIo, "renaming " + building.string() + " to " + path.string());
    }
  }
  return path.string();
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::start() {
  const std::string initdb = std::string(kBinDir) + "/initdb";
  const std::string postgres = std::string(kBinDir) + "/postgres";
  if (::access(initdb.c_str(), X_OK) != 0 || ::access(postgres.c_str(), X_OK) != 0) {
    return Error(ErrorCode::kUnavailable,
                 std::string("PostgreSQL 15 is not installed (no initdb/postgres in ") + kBinDir +
                     "): run scripts/setup (Debian package postgresql-15)");
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) {
      return Error(ErrorCode::kUnavailable,
                   "running as root, and there is no `postgres` user to run PostgreSQL as "
                   "(Debian package postgresql-15 creates it)");
    }
    server->switch_user_ = true;
    server->uid_ = pw->pw_uid;
    server->gid_ = pw->pw_gid;
    if (::chown(server->dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Error(ErrorCode::kIo, "chown of " + server->dir_.path().string() + " to postgres");
    }
  }
  const Identity who{server->switch_user_, server->uid_, server->gid_};
  auto cluster = template_cluster(who);
  if (!cluster.ok()) return cluster.error();
  server->password_ = kPassword;
  server->data_dir_ = (server->dir_.path() / "data").string();
  // cp -a keeps the owner (postgres) and the modes PostgreSQL insists on.
  if (auto s = run_to_end(Identity{false, 0, 0},
                          {"/bin/cp", "-a", *cluster + "/data", server->data_dir_},
                          (server->dir_.path() / "copy.log").string());
      !s.ok()) {
    return s.error();
  }
  auto port = free_port();
  if (!port.ok()) return port.error();
  server->port_ = *port;
  if (auto s = server->launch(); !s.ok()) return s.error();
  return server;
}

Status PostgresServer::launch() {
  const Identity who{switch_user_, uid_, gid_};
  const std::string log = (dir_.path() / "server.log").string();
  auto pid = spawn(who,
                   {std::string(kBinDir) + "/postgres", "-D", data_dir_, "-k", dir_.path().string(),
                    "-p", std::to_string(port_), "-h", "127.0.0.1", "-c", "fsync=on", "-c",
                    "shared_buffers=16MB", "-c", "max_connections=60"},
                   log);
  if (!pid.ok()) return pid.error();
  pid_ = *pid;
  const std::string ping = "host=" + dir_.path().string() + " port=" + std::to_string(port_) +
                           " dbname=postgres user=postgres connect_timeout=5";
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  // Polls readiness (the server says nothing else when it is up).
  while (PQping(ping.c_str()) != PQPING_OK) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Error(ErrorCode::kUnavailable, "postgres exited while starting: " + tail_of(log));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      (void)stop();
      return Error(ErrorCode::kUnavailable, "postgres did not accept connections: " + tail_of(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Ok();
}

Status PostgresServer::stop() {
  if (pid_ < 0) return Status::Ok();
  // SIGINT is the fast shutdown: clients are disconnected, data is consistent.
  ::kill(pid_, SIGINT);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      (void)::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return Status::Ok();
}

Status PostgresServer::start_again() {
  if (pid_ >= 0) return Status::Ok();
  return launch();
}

Status PostgresServer::restart() {
  if (auto s = stop(); !s.ok()) return s;
  return start_again();
}

PostgresServer::~PostgresServer() {
  if (pid_ < 0) return;
  // SIGQUIT is the immediate shutdown: no checkpoint for data about to be removed.
  ::kill(pid_, SIGQUIT);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://postgres:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/" +
         database;
}

Result<std::string> PostgresServer::create_database() {
  const std::string conninfo = "host=" + dir_.path().string() + " port=" + std::to_string(port_) +
                               " dbname=postgres user=postgres";
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    return Error(ErrorCode::kUnavailable, "connecting to the test server: " + message);
  }
  const std::string name = "t" + std::to_string(++databases_);
  PGresult* result = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  std::string message = ok ? "" : PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  if (!ok) return Error(ErrorCode::kStorageFailure, "CREATE DATABASE " + name + ": " + message);
  return url(name);
}

Result<PostgresServer*> shared_postgres() {
  static std::mutex mutex;
  static std::unique_ptr<PostgresServer> server;
  static std::optional<Error> failed;
  std::lock_guard lock(mutex);
  if (server) return server.get();
  if (failed) return *failed;
  auto started = PostgresServer::start();
  if (!started.ok()) {
    failed = started.error();
    return started.error();
  }
  server = std::move(*started);
  return server.get();
}

}  // namespace tether::test
