#include "hub/store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace tether::hub {

namespace {

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  Error error(const char* what) const {
    return Error(std::string(what) + ": " + sqlite3_errmsg(db_));
  }
  void bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int step() { return sqlite3_step(stmt_); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

constexpr const char* kColumns =
    "id, created_ms, last_seen_ms, version, state, boot_id, uptime_s, status_ms";

DeviceRecord read_row(const Stmt& s) {
  DeviceRecord r;
  r.id = s.text(0);
  r.created_ms = s.int64(1);
  r.last_seen_ms = s.is_null(2) ? 0 : s.int64(2);
  r.version = s.text(3);
  r.state = s.text(4);
  r.boot_id = s.text(5);
  r.uptime_s = s.is_null(6) ? -1 : s.int64(6);
  r.status_ms = s.is_null(7) ? 0 : s.int64(7);
  return r;
}

}  // namespace

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& state_dir) {
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error("creating state directory " + state_dir + ": " + std::strerror(errno));
  }
  const std::string path = state_dir + "/hub.db";
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error("opening " + path + ": " + msg);
  }
  std::unique_ptr<Store> store(new Store(db));
  sqlite3_busy_timeout(db, 2000);
  for (const char* sql : {
           "PRAGMA journal_mode=WAL",
           "PRAGMA synchronous=NORMAL",
           "CREATE TABLE IF NOT EXISTS devices ("
           " id TEXT PRIMARY KEY,"
           " token_sha256 TEXT NOT NULL UNIQUE,"
           " created_ms INTEGER NOT NULL,"
           " last_seen_ms INTEGER,"
           " version TEXT, state TEXT, boot_id TEXT, uptime_s INTEGER, status_ms INTEGER)",
       }) {
    auto s = store->exec(sql);
    if (!s.ok()) return s.error().wrap("initialising " + path);
  }
  return store;
}

Store::~Store() {
  sqlite3_close(db_);
}

Status Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Error(msg);
  }
  return Status::Ok();
}

Status Store::put_device(const std::string& id, const std::string& token_sha256,
                         std::int64_t now_ms) {
  Stmt s(db_,
         "INSERT INTO devices(id, token_sha256, created_ms) VALUES(?1, ?2, ?3) "
         "ON CONFLICT(id) DO UPDATE SET token_sha256 = excluded.token_sha256");
  if (!s.ok()) return s.error("registering device");
  s.bind(1, id);
  s.bind(2, token_sha256);
  s.bind(3, now_ms);
  if (s.step() != SQLITE_DONE) return s.error("registering device");
  return Status::Ok();
}

Result<std::optional<std::string>> Store::device_for_token(const std::string& token_sha256) {
  Stmt s(db_, "SELECT id FROM devices WHERE token_sha256 = ?1");
  if (!s.ok()) return s.error("looking up a token");
  s.bind(1, token_sha256);
  const int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(s.text(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return s.error("looking up a token");
}

Result<std::optional<DeviceRecord>> Store::get(const std::string& id) {
  const std::string sql = std::string("SELECT ") + kColumns + " FROM devices WHERE id = ?1";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return s.error("reading device");
  s.bind(1, id);
  const int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<DeviceRecord>(read_row(s));
  if (rc == SQLITE_DONE) return std::optional<DeviceRecord>();
  return s.error("reading device");
}

Result<std::vector<DeviceRecord>> Store::list() {
  const std::string sql = std::string("SELECT ") + kColumns + " FROM devices ORDER BY id";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return s.error("listing devices");
  std::vector<DeviceRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_row(s));
  if (rc != SQLITE_DONE) return s.error("listing devices");
  return out;
}

Status Store::touch(const std::string& id, std::int64_t now_ms) {
  Stmt s(db_, "UPDATE devices SET last_seen_ms = ?2 WHERE id = ?1");
  if (!s.ok()) return s.error("updating last seen");
  s.bind(1, id);
  s.bind(2, now_ms);
  if (s.step() != SQLITE_DONE) return s.error("updating last seen");
  return Status::Ok();
}

Status Store::record_status(const std::string& id, const StatusUpdate& st, std::int64_t now_ms) {
  Stmt s(db_,
         "UPDATE devices SET last_seen_ms = ?2, status_ms = ?2, version = ?3, state = ?4, "
         "boot_id = ?5, uptime_s = CASE WHEN ?6 < 0 THEN NULL ELSE ?6 END WHERE id = ?1");
  if (!s.ok()) return s.error("recording status");
  s.bind(1, id);
  s.bind(2, now_ms);
  s.bind(3, st.version);
  s.bind(4, st.state);
  s.bind(5, st.boot_id);
  s.bind(6, st.uptime_s);
  if (s.step() != SQLITE_DONE) return s.error("recording status");
  return Status::Ok();
}

}  // namespace tether::hub
