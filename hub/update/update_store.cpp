#include "hub/update/update_store.hpp"

#include <algorithm>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "hub/store/again_if_unavailable.hpp"
#include "hub/store/sql_store_connections.hpp"

namespace tether::hub {

namespace {

constexpr std::int64_t to_db(bool b) {
  return b ? 1 : 0;
}

// The columns of `updates` in the order entry_of reads them.
constexpr const char* kColumns =
    "id, device, artifact, version, size, sha256, consent, grant_hash, campaign, created_by, "
    "created_ms, state, percent, message, updated_ms, acked";

UpdateEntry entry_of(const sql::Row& row) {
  UpdateEntry e;
  e.id = row.text(0);
  e.device = row.text(1);
  e.artifact = row.text(2);
  e.version = row.text(3);
  e.size = static_cast<std::uint64_t>(row.int64(4));
  e.sha256 = row.text(5);
  e.consent = row.int64(6) != 0;
  e.grant_hash = row.text(7);
  e.campaign = row.text(8);
  e.created_by = row.text(9);
  e.created_ms = row.int64(10);
  e.state = row.text(11);
  e.percent = row.int64(12);
  e.message = row.text(13);
  e.updated_ms = row.int64(14);
  e.acked = row.int64(15) != 0;
  return e;
}

// Sorted here rather than by ORDER BY: the engines collate text differently
// (PostgreSQL by the database's locale), and the order is part of the contract.
void oldest_first(std::vector<UpdateEntry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const UpdateEntry& a, const UpdateEntry& b) {
    return std::tie(a.created_ms, a.id) < std::tie(b.created_ms, b.id);
  });
}

Result<std::vector<UpdateEntry>> entries_of(Result<sql::Rows> rows, const char* what) {
  if (!rows.ok()) return rows.error().wrap(what);
  std::vector<UpdateEntry> out;
  out.reserve(rows->size());
  for (const sql::Row& row : *rows) out.push_back(entry_of(row));
  oldest_first(out);
  return out;
}

// Hands each event row (update_id, at_ms, state, percent, message; oldest first)
// to its entry.
void attach_events(std::vector<UpdateEntry>& entries, const sql::Rows& events) {
  std::unordered_map<std::string, UpdateEntry*> by_id;
  by_id.reserve(entries.size());
  for (auto& e : entries) by_id.emplace(e.id, &e);
  for (const sql::Row& row : events) {
    auto it = by_id.find(row.text(0));
    if (it == by_id.end()) continue;  // an event of an update that is gone
    it->second->events.push_back(UpdateEvent{row.int64(1), row.text(2), row.int64(3), row.text(4)});
  }
}

// Adds one event to an update and drops its events beyond kMaxEvents.
Status insert_event(sql::Connection& db, const std::string& id, const UpdateEvent& event) {
  auto added = db.run(
      "INSERT INTO update_events (update_id, at_ms, state, percent, message) "
      "VALUES ($1,$2,$3,$4,$5)",
      {id, event.at_ms, event.state, event.percent, event.message});
  if (!added.ok()) return added.error().wrap("saving an event of update " + id);
  auto pruned = db.run(
      "DELETE FROM update_events WHERE update_id = $1 AND seq <= (SELECT seq FROM "
      "update_events WHERE update_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)",
      {id, static_cast<std::int64_t>(UpdateStore::kMaxEvents)});
  if (!pruned.ok()) return pruned.error().wrap("pruning the events of update " + id);
  return Status::Ok();
}

}  // namespace

const std::vector<sql::Migration>& UpdateStore::migrations() {
  // Version 1 is the schema updates.db had before the store was ported (there
  // `seq INTEGER PRIMARY KEY AUTOINCREMENT`, which AUTO_ID is on SQLite): an
  // existing file takes it as it is.
  static const std::vector<sql::Migration> kMigrations = {
      {1,
       {
           R"sql(CREATE TABLE IF NOT EXISTS updates (
  id TEXT PRIMARY KEY, device TEXT NOT NULL, artifact TEXT NOT NULL, version TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, consent INTEGER NOT NULL,
  grant_hash TEXT NOT NULL, campaign TEXT NOT NULL, created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL, state TEXT NOT NULL, percent INTEGER NOT NULL,
  message TEXT NOT NULL, updated_ms INTEGER NOT NULL, acked INTEGER NOT NULL))sql",
           R"sql(CREATE INDEX IF NOT EXISTS updates_device ON updates(device, created_ms))sql",
           R"sql(CREATE TABLE IF NOT EXISTS update_events (
  seq AUTO_ID, update_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
  state TEXT NOT NULL, percent INTEGER NOT NULL, message TEXT NOT NULL))sql",
           R"sql(CREATE INDEX IF NOT EXISTS update_events_id ON update_events(update_id, seq))sql",
           R"sql(CREATE TABLE IF NOT EXISTS update_campaigns (
  id TEXT PRIMARY KEY, artifact TEXT NOT NULL, version TEXT NOT NULL, consent INTEGER NOT NULL,
  created_by TEXT NOT NULL, created_ms INTEGER NOT NULL))sql",
       }},
      // Several instances read updates back by download grant and by campaign.
      {2,
       {
           "CREATE INDEX IF NOT EXISTS updates_grant ON updates(grant_hash)",
           "CREATE INDEX IF NOT EXISTS updates_campaign ON updates(campaign, state)",
       }},
  };
  return kMigrations;
}

Result<std::unique_ptr<UpdateStore>> UpdateStore::open(const sql::StoreUrl& url, LoopInbox& inbox) {
  // A final state is acked to the device only once it is committed: sync each commit.
  const sql::ConnectOptions options{.sqlite_file = "updates.db", .synchronous = "FULL"};
  auto connections = open_store_connections(url, "updates", options, migrations());
  if (!connections.ok()) return connections.error();
  return std::unique_ptr<UpdateStore>(
      new UpdateStore(std::move(connections->reader), std::move(connections->writer), inbox));
}

UpdateStore::UpdateStore(std::unique_ptr<sql::Connection> reader,
                         std::unique_ptr<sql::Connection> writer, LoopInbox& inbox)
    : reader_(std::move(reader)),
      writer_(std::move(writer)),
      inbox_(inbox),
      batches_({.write =
                    [this](std::deque<Queued>& batch) {
                      // Upserts, deletes and event inserts: written again whole
                      // when the server dropped the connection (an event may then
                      // be stored twice if the first COMMIT reached the server).
                      return again_if_unavailable([&] {
                        return sql::transaction(*writer_, "writing updates", [&]() -> Status {
                          for (auto& [write, done] : batch) {
                            if (auto s = write(*writer_); !s.ok()) return s;
                          }
                          return Status::Ok();
                        });
                      });
                    },
                .complete =
                    [this](std::deque<Queued>& batch, const Status& written) {
                      for (auto& [write, done] : batch) {
                        if (done) inbox_.post([done = std::move(done), written] { done(written); });
                      }
                    }}) {}

UpdateStore::~UpdateStore() {
  // The writer thread uses writer_: it ends before the connections close.
  batches_.stop();
}

Result<std::vector<UpdateEntry>> UpdateStore::load_updates() {
  auto out =
      entries_of(again_if_unavailable([&] {
                   return reader_->query(std::string("SELECT ") + kColumns + " FROM updates");
                 }),
                 "reading updates");
  if (!out.ok()) return out;
  // Every event in one query (one round trip to a database server, not one per update).
  auto events = again_if_unavailable([&] {
    return reader_->query(
        "SELECT update_id, at_ms, state, percent, message FROM update_events ORDER BY at_ms, seq");
  });
  if (!events.ok()) return events.error().wrap("reading update events");
  attach_events(*out, *events);
  return out;
}

Result<std::optional<UpdateEntry>> UpdateStore::get(const std::string& update_id) {
  auto found = entries_of(again_if_unavailable([&] {
                            return reader_->query(
                                std::string("SELECT ") + kColumns + " FROM updates WHERE id = $1",
                                {update_id});
                          }),
                          "reading an update");
  if (!found.ok()) return found.error();
  if (found->empty()) return std::optional<UpdateEntry>();
  // Events in the order they happened, then as stored: with several instances an
  // operator's event (accepted on one) can be committed after the device's answer
  // to it (stored by another), and the order of seq alone then reads backwards.
  auto events = again_if_unavailable([&] {
    return reader_->query(
        "SELECT update_id, at_ms, state, percent, message FROM update_events "
        "WHERE update_id = $1 ORDER BY at_ms, seq",
        {update_id});
  });
  if (!events.ok()) return events.error().wrap("reading the events of an update");
  attach_events(*found, *events);
  return std::optional<UpdateEntry>(std::move(found->front()));
}

Result<std::optional<UpdateEntry>> UpdateStore::by_grant(const std::string& grant_hash) {
  auto found = entries_of(again_if_unavailable([&] {
                            return reader_->query(std::string("SELECT ") + kColumns +
                                                      " FROM updates WHERE grant_hash = $1",
                                                  {grant_hash});
                          }),
                          "reading an update by its grant");
  if (!found.ok()) return found.error();
  if (found->empty()) return std::optional<UpdateEntry>();
  // Grants are 128 random bits: two rows share one only if both are empty.
  return std::optional<UpdateEntry>(std::move(found->back()));
}

Result<std::vector<UpdateEntry>> UpdateStore::of_device(const std::string& device,
                                                        bool with_events) {
  auto out = entries_of(again_if_unavailable([&] {
                          return reader_->query(
                              std::string("SELECT ") + kColumns + " FROM updates WHERE device = $1",
                              {device});
                        }),
                        "reading the updates of a device");
  if (!out.ok() || out->empty() || !with_events) return out;
  auto events = again_if_unavailable([&] {
    return reader_->query(
        "SELECT e.update_id, e.at_ms, e.state, e.percent, e.message FROM update_events e "
        "JOIN updates u ON u.id = e.update_id WHERE u.device = $1 ORDER BY e.at_ms, e.seq",
        {device});
  });
  if (!events.ok()) return events.error().wrap("reading the update events of a device");
  attach_events(*out, *events);
  return out;
}

Result<std::vector<UpdateEntry>> UpdateStore::of_campaign(const std::string& campaign) {
  return entries_of(again_if_unavailable([&] {
                      return reader_->query(
                          std::string("SELECT ") + kColumns + " FROM updates WHERE campaign = $1",
                          {campaign});
                    }),
                    "reading the updates of a campaign");
}

Result<std::optional<Campaign>> UpdateStore::campaign(const std::string& campaign_id) {
  auto rows = again_if_unavailable([&] {
    return reader_->query(
        "SELECT id, artifact, version, consent, created_by, created_ms FROM update_campaigns "
        "WHERE id = $1",
        {campaign_id});
  });
  if (!rows.ok()) return rows.error().wrap("reading a campaign");
  if (rows->empty()) return std::optional<Campaign>();
  const sql::Row& row = rows->front();
  return std::optional<Campaign>(Campaign{row.text(0), row.text(1), row.text(2), row.int64(3) != 0,
                                          row.text(4), row.int64(5)});
}

Result<std::vector<Campaign>> UpdateStore::recent_campaigns(std::size_t limit) {
  auto rows = again_if_unavailable([&] {
    return reader_->query(
        "SELECT id, artifact, version, consent, created_by, created_ms FROM update_campaigns "
        "ORDER BY created_ms DESC LIMIT $1",
        {static_cast<std::int64_t>(limit)});
  });
  if (!rows.ok()) return rows.error().wrap("reading campaigns");
  std::vector<Campaign> out;
  out.reserve(rows->size());
  for (const sql::Row& row : *rows) {
    out.push_back(Campaign{row.text(0), row.text(1), row.text(2), row.int64(3) != 0, row.text(4),
                           row.int64(5)});
  }
  std::sort(out.begin(), out.end(), [](const Campaign& a, const Campaign& b) {
    return std::tie(a.created_ms, a.id) < std::tie(b.created_ms, b.id);
  });
  return out;
}

Result<UpdateStore::CampaignCounts> UpdateStore::campaign_counts() {
  auto rows = again_if_unavailable([&] {
    return reader_->query(
        "SELECT campaign, state, COUNT(*) FROM updates WHERE campaign > '' "
        "GROUP BY campaign, state");
  });
  if (!rows.ok()) return rows.error().wrap("counting the updates of campaigns");
  CampaignCounts out;
  for (const sql::Row& row : *rows) {
    out[row.text(0)][row.text(1)] = static_cast<std::size_t>(row.int64(2));
  }
  return out;
}

Result<std::vector<Campaign>> UpdateStore::load_campaigns() {
  auto rows = again_if_unavailable([&] {
    return reader_->query(
        "SELECT id, artifact, version, consent, created_by, created_ms FROM update_campaigns");
  });
  if (!rows.ok()) return rows.error().wrap("reading campaigns");
  std::vector<Campaign> out;
  out.reserve(rows->size());
  for (const sql::Row& row : *rows) {
    out.push_back(Campaign{row.text(0), row.text(1), row.text(2), row.int64(3) != 0, row.text(4),
                           row.int64(5)});
  }
  std::sort(out.begin(), out.end(), [](const Campaign& a, const Campaign& b) {
    return std::tie(a.created_ms, a.id) < std::tie(b.created_ms, b.id);
  });
  return out;
}

void UpdateStore::save(const UpdateEntry& entry, std::optional<UpdateEvent> event, Done done) {
  // A copy of the row (without the events): the writer thread owns it.
  UpdateEntry row = entry;
  row.events.clear();
  queue(
      [row = std::move(row), event = std::move(event)](sql::Connection& db) -> Status {
        auto saved = db.run(
            "INSERT INTO updates (id, device, artifact, version, size, sha256, consent, "
            "grant_hash, campaign, created_by, created_ms, state, percent, message, updated_ms, "
            "acked) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) "
            "ON CONFLICT (id) DO UPDATE SET device = excluded.device, "
            "artifact = excluded.artifact, version = excluded.version, size = excluded.size, "
            "sha256 = excluded.sha256, consent = excluded.consent, "
            "grant_hash = excluded.grant_hash, campaign = excluded.campaign, "
            "created_by = excluded.created_by, created_ms = excluded.created_ms, "
            "state = excluded.state, percent = excluded.percent, message = excluded.message, "
            "updated_ms = excluded.updated_ms, acked = excluded.acked",
            {row.id, row.device, row.artifact, row.version, static_cast<std::int64_t>(row.size),
             row.sha256, to_db(row.consent), row.grant_hash, row.campaign, row.created_by,
             row.created_ms, row.state, row.percent, row.message, row.updated_ms,
             to_db(row.acked)});
        if (!saved.ok()) return saved.error().wrap("saving update " + row.id);
        if (!event) return Status::Ok();
        return insert_event(db, row.id, *event);
      },
      std::move(done));
}

void UpdateStore::change(const std::string& update_id, UpdateChange change,
                         std::optional<UpdateEvent> event, Changed done) {
  // Set by the writer thread, read by the completion on the loop after the commit.
  auto changed = std::make_shared<bool>(false);
  queue(
      [id = update_id, c = std::move(change), event = std::move(event),
       changed](sql::Connection& db) -> Status {
        std::string sql = "UPDATE updates SET state = $2, percent = $3, updated_ms = $4";
        std::vector<sql::Param> params{id, c.state, c.percent, c.updated_ms};
        const auto set = [&](const char* column, sql::Param value) {
          params.push_back(value);
          sql += std::string(", ") + column + " = $" + std::to_string(params.size());
        };
        const std::int64_t acked = c.acked ? to_db(*c.acked) : 0;
        if (c.message) set("message", *c.message);
        if (c.acked) set("acked", acked);
        if (c.grant_hash) set("grant_hash", *c.grant_hash);
        sql += " WHERE id = $1";
        if (c.only_from) {
          params.emplace_back(*c.only_from);
          sql += " AND state = $" + std::to_string(params.size());
        }
        auto rows = db.run(sql, params);
        if (!rows.ok()) return rows.error().wrap("saving update " + id);
        *changed = *rows > 0;
        if (!*changed || !event) return Status::Ok();
        return insert_event(db, id, *event);
      },
      [changed, done = std::move(done)](const Status& s) {
        if (done) done(s, s.ok() && *changed);
      });
}

void UpdateStore::add_event(const std::string& update_id, UpdateEvent event, Done done) {
  queue([id = update_id, event = std::move(event)](
            sql::Connection& db) -> Status { return insert_event(db, id, event); },
        std::move(done));
}

void UpdateStore::set_acked(const std::string& update_id, Done done) {
  queue(
      [id = update_id](sql::Connection& db) -> Status {
        auto rows = db.run("UPDATE updates SET acked = 1 WHERE id = $1", {id});
        if (!rows.ok()) return rows.error().wrap("saving update " + id);
        return Status::Ok();
      },
      std::move(done));
}

void UpdateStore::save(const Campaign& campaign, Done done) {
  queue(
      [c = campaign](sql::Connection& db) -> Status {
        auto saved = db.run(
            "INSERT INTO update_campaigns (id, artifact, version, consent, created_by, "
            "created_ms) VALUES ($1,$2,$3,$4,$5,$6) "
            "ON CONFLICT (id) DO UPDATE SET artifact = excluded.artifact, "
            "version = excluded.version, consent = excluded.consent, "
            "created_by = excluded.created_by, created_ms = excluded.created_ms",
            {c.id, c.artifact, c.version, to_db(c.consent), c.created_by, c.created_ms});
        if (!saved.ok()) return saved.error().wrap("saving campaign " + c.id);
        return Status::Ok();
      },
      std::move(done));
}

void UpdateStore::erase(const std::string& update_id, Done done) {
  queue(
      [id = update_id](sql::Connection& db) -> Status {
        auto events = db.run("DELETE FROM update_events WHERE update_id = $1", {id});
        if (!events.ok()) return events.error().wrap("forgetting update " + id);
        auto row = db.run("DELETE FROM updates WHERE id = $1", {id});
        if (!row.ok()) return row.error().wrap("forgetting update " + id);
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
