#include "hub/update/update_store.hpp"

#include <utility>

#include "hub/store/sqlite_db.hpp"

namespace tether::hub {

namespace {

using sqlite::exec;
using sqlite::Stmt;

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS updates (
  id TEXT PRIMARY KEY, device TEXT NOT NULL, artifact TEXT NOT NULL, version TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, consent INTEGER NOT NULL,
  grant_hash TEXT NOT NULL, campaign TEXT NOT NULL, created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL, state TEXT NOT NULL, percent INTEGER NOT NULL,
  message TEXT NOT NULL, updated_ms INTEGER NOT NULL, acked INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS updates_device ON updates(device, created_ms);
CREATE TABLE IF NOT EXISTS update_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, update_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
  state TEXT NOT NULL, percent INTEGER NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS update_events_id ON update_events(update_id, seq);
CREATE TABLE IF NOT EXISTS update_campaigns (
  id TEXT PRIMARY KEY, artifact TEXT NOT NULL, version TEXT NOT NULL, consent INTEGER NOT NULL,
  created_by TEXT NOT NULL, created_ms INTEGER NOT NULL);
)sql";

}  // namespace

Result<std::unique_ptr<UpdateStore>> UpdateStore::open(const std::string& state_dir,
                                                       LoopInbox& inbox) {
  const std::string path = state_dir + "/updates.db";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error(ErrorCode::kStorageFailure, "opening " + path + ": " + why);
  }
  sqlite3_busy_timeout(db, 5000);
  if (auto s = exec(db, kSchema); !s.ok()) {
    sqlite3_close(db);
    return s.error().wrap("creating the tables of " + path);
  }
  return std::unique_ptr<UpdateStore>(new UpdateStore(db, inbox));
}

UpdateStore::UpdateStore(sqlite3* db, LoopInbox& inbox)
    : db_(db),
      inbox_(inbox),
      batches_({.write =
                    [this](std::deque<Queued>& batch) {
                      return sqlite::transaction(db_, "writing updates", [&]() -> Status {
                        for (auto& [write, done] : batch) {
                          if (auto s = write(db_); !s.ok()) return s;
                        }
                        return Status::Ok();
                      });
                    },
                .complete =
                    [this](std::deque<Queued>& batch, const Status& written) {
                      for (auto& [write, done] : batch) {
                        if (done) inbox_.post([done = std::move(done), written] { done(written); });
                      }
                    }}) {}

UpdateStore::~UpdateStore() {
  batches_.stop();
  sqlite3_close(db_);
}

Result<std::vector<UpdateEntry>> UpdateStore::load_updates() {
  std::vector<UpdateEntry> out;
  {
    Stmt s(db_,
           "SELECT id, device, artifact, version, size, sha256, consent, grant_hash, campaign, "
           "created_by, created_ms, state, percent, message, updated_ms, acked FROM updates "
           "ORDER BY created_ms, id");
    if (!s.ok()) return s.error("reading updates");
    while (s.step() == SQLITE_ROW) {
      UpdateEntry e;
      e.id = s.text(0);
      e.device = s.text(1);
      e.artifact = s.text(2);
      e.version = s.text(3);
      e.size = static_cast<std::uint64_t>(s.int64(4));
      e.sha256 = s.text(5);
      e.consent = s.int64(6) != 0;
      e.grant_hash = s.text(7);
      e.campaign = s.text(8);
      e.created_by = s.text(9);
      e.created_ms = s.int64(10);
      e.state = s.text(11);
      e.percent = s.int64(12);
      e.message = s.text(13);
      e.updated_ms = s.int64(14);
      e.acked = s.int64(15) != 0;
      out.push_back(std::move(e));
    }
  }
  for (auto& e : out) {
    Stmt one(db_,
             "SELECT at_ms, state, percent, message FROM update_events WHERE update_id = ? "
             "ORDER BY seq");
    one.bind(1, e.id);
    while (one.step() == SQLITE_ROW) {
      e.events.push_back(UpdateEvent{one.int64(0), one.text(1), one.int64(2), one.text(3)});
    }
  }
  return out;
}

Result<std::vector<Campaign>> UpdateStore::load_campaigns() {
  std::vector<Campaign> out;
  Stmt s(db_,
         "SELECT id, artifact, version, consent, created_by, created_ms FROM update_campaigns "
         "ORDER BY created_ms, id");
  if (!s.ok()) return s.error("reading campaigns");
  while (s.step() == SQLITE_ROW) {
    out.push_back(
        Campaign{s.text(0), s.text(1), s.text(2), s.int64(3) != 0, s.text(4), s.int64(5)});
  }
  return out;
}

void UpdateStore::save(const UpdateEntry& entry, std::optional<UpdateEvent> event, Done done) {
  // A copy of the row (without the events): the writer thread owns it.
  UpdateEntry row = entry;
  row.events.clear();
  queue(
      [row = std::move(row), event = std::move(event)](sqlite3* db) -> Status {
        Stmt up(db,
                "INSERT OR REPLACE INTO updates (id, device, artifact, version, size, sha256, "
                "consent, grant_hash, campaign, created_by, created_ms, state, percent, message, "
                "updated_ms, acked) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        if (!up.ok()) return up.error("saving update " + row.id);
        up.bind(1, row.id);
        up.bind(2, row.device);
        up.bind(3, row.artifact);
        up.bind(4, row.version);
        up.bind(5, static_cast<std::int64_t>(row.size));
        up.bind(6, row.sha256);
        up.bind(7, std::int64_t{row.consent ? 1 : 0});
        up.bind(8, row.grant_hash);
        up.bind(9, row.campaign);
        up.bind(10, row.created_by);
        up.bind(11, row.created_ms);
        up.bind(12, row.state);
        up.bind(13, row.percent);
        up.bind(14, row.message);
        up.bind(15, row.updated_ms);
        up.bind(16, std::int64_t{row.acked ? 1 : 0});
        if (up.step() != SQLITE_DONE) return up.error("saving update " + row.id);
        if (event) {
          Stmt ins(db,
                   "INSERT INTO update_events (update_id, at_ms, state, percent, message) "
                   "VALUES (?,?,?,?,?)");
          ins.bind(1, row.id);
          ins.bind(2, event->at_ms);
          ins.bind(3, event->state);
          ins.bind(4, event->percent);
          ins.bind(5, event->message);
          Stmt prune(db,
                     "DELETE FROM update_events WHERE update_id = ?1 AND seq <= (SELECT seq FROM "
                     "update_events WHERE update_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)");
          prune.bind(1, row.id);
          prune.bind(2, static_cast<std::int64_t>(kMaxEvents));
          if (!ins.ok() || ins.step() != SQLITE_DONE || !prune.ok() ||
              prune.step() != SQLITE_DONE) {
            return Error(ErrorCode::kStorageFailure, std::string("saving an event of update ") +
                                                         row.id + ": " + sqlite3_errmsg(db));
          }
        }
        return Status::Ok();
      },
      std::move(done));
}

void UpdateStore::save(const Campaign& campaign, Done done) {
  queue(
      [c = campaign](sqlite3* db) -> Status {
        Stmt s(db,
               "INSERT OR REPLACE INTO update_campaigns (id, artifact, version, consent, "
               "created_by, created_ms) VALUES (?,?,?,?,?,?)");
        if (!s.ok()) return s.error("saving campaign " + c.id);
        s.bind(1, c.id);
        s.bind(2, c.artifact);
        s.bind(3, c.version);
        s.bind(4, std::int64_t{c.consent ? 1 : 0});
        s.bind(5, c.created_by);
        s.bind(6, c.created_ms);
        if (s.step() != SQLITE_DONE) return s.error("saving campaign " + c.id);
        return Status::Ok();
      },
      std::move(done));
}

void UpdateStore::erase(const std::string& update_id, Done done) {
  queue(
      [id = update_id](sqlite3* db) -> Status {
        Stmt a(db, "DELETE FROM update_events WHERE update_id = ?");
        Stmt b(db, "DELETE FROM updates WHERE id = ?");
        a.bind(1, id);
        b.bind(1, id);
        if (!a.ok() || !b.ok() || a.step() != SQLITE_DONE || b.step() != SQLITE_DONE) {
          return Error(ErrorCode::kStorageFailure,
                       "forgetting update " + id + ": " + sqlite3_errmsg(db));
        }
        return Status::Ok();
      },
      std::move(done));
}

void UpdateStore::queue(Write write, Done done) {
  batches_.queue(
      [&](std::deque<Queued>& queued) { queued.emplace_back(std::move(write), std::move(done)); });
}

void UpdateStore::flush() {
  (void)batches_.flush();
}

}  // namespace tether::hub
