// What the hub keeps of software updates (wire.md 5.3) on the hub's SQL store
// (hub/store/sql/database.hpp; with SQLite a file of its own, `DIR/updates.db`):
// every offer with its artifact, state and outcome, every progress message (the
// last kMaxEvents per update), and fleet campaigns.
//
// The store's rows are the truth: several hub instances may share it (PostgreSQL,
// or one SQLite state dir), and any of them may change an update (the one that
// offered it, the one holding the device's link, the one an operator cancels it
// on). The update service keeps a copy in memory and reads rows back by id, by
// grant hash, by device or by campaign before it acts or answers. Changes touch
// only their own columns (state, percent, message, updated, acked, grant; events
// are appended), so two instances changing one update do not undo each other's
// columns. A writer thread of the store's own applies the writes in order,
// everything queued since the last commit in one transaction, and reports each
// commit back on the loop through the LoopInbox. That completion is what lets the
// hub `ack` a final state only once it is safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/loop_inbox.hpp"
#include "hub/store/batch_writer.hpp"
#include "hub/store/sql/database.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

struct UpdateEvent {
  std::int64_t at_ms = 0;
  std::string state;
  std::int64_t percent = -1;  // -1 = none
  std::string message;
};

// One offer of one artifact to one device.
struct UpdateEntry {
  std::string id;
  std::string device;
  std::string artifact;
  std::string version;
  std::uint64_t size = 0;
  std::string sha256;
  bool consent = false;
  std::string grant_hash;  // SHA-256 (hex) of the download URL's secret
  std::string campaign;    // "" = a single offer
  std::string created_by;
  std::int64_t created_ms = 0;
  // "queued" (device offline), "offered" (sent, nothing heard yet), or a wire state.
  std::string state;
  std::int64_t percent = -1;
  std::string message;
  std::int64_t updated_ms = 0;
  bool acked = false;  // the final state was acknowledged to the device
  std::deque<UpdateEvent> events;
};

struct Campaign {
  std::string id;
  std::string artifact;
  std::string version;
  bool consent = false;
  std::string created_by;
  std::int64_t created_ms = 0;
};

// A change of one update's state: the columns it writes.
struct UpdateChange {
  std::string state;
  std::int64_t percent = -1;
  std::optional<std::string> message;  // nullopt: the stored message stays
  std::int64_t updated_ms = 0;
  std::optional<bool> acked;              // nullopt: stays
  std::optional<std::string> grant_hash;  // nullopt: stays
  // Set: the change applies only while the stored state is this one (an offer
  // goes out once even when two instances try to deliver it).
  std::optional<std::string> only_from;
};

class UpdateStore {
 public:
  static constexpr std::size_t kMaxEvents = 200;

  // Connects to `url` (SQLite: DIR/updates.db, creating DIR 0700 when missing) and
  // brings the schema up to date (migrations of the store "updates").
  // Completions are posted to `inbox`.
  static Result<std::unique_ptr<UpdateStore>> open(const sql::StoreUrl& url, LoopInbox& inbox);
  // The schema, version by version; version 1 is the updates.db of older hubs.
  static const std::vector<sql::Migration>& migrations();
  ~UpdateStore();
  UpdateStore(const UpdateStore&) = delete;
  UpdateStore& operator=(const UpdateStore&) = delete;

  // Loop thread, at start: everything stored, oldest first (created_ms, then id).
  Result<std::vector<UpdateEntry>> load_updates();
  Result<std::vector<Campaign>> load_campaigns();

  // Reads on the loop thread (committed rows; by primary key or an indexed column).
  // One update with its events.
  Result<std::optional<UpdateEntry>> get(const std::string& update_id);
  // The update whose download grant hashes to `grant_hash`, without its events.
  Result<std::optional<UpdateEntry>> by_grant(const std::string& grant_hash);
  // One device's updates (with their events when asked), oldest first.
  Result<std::vector<UpdateEntry>> of_device(const std::string& device, bool with_events = true);
  // One campaign's updates without their events, oldest first.
  Result<std::vector<UpdateEntry>> of_campaign(const std::string& campaign);
  Result<std::optional<Campaign>> campaign(const std::string& campaign_id);
  // The newest `limit` campaigns, oldest first.
  Result<std::vector<Campaign>> recent_campaigns(std::size_t limit);
  // How many updates of each campaign are in each state: campaign -> state -> n.
  using CampaignCounts = std::map<std::string, std::map<std::string, std::size_t>>;
  Result<CampaignCounts> campaign_counts();

  using Done = std::function<void(const Status&)>;
  // Queued; `done` runs on the loop after the commit (or its failure).
  // Writes the entry's row and, when given, one more event.
  void save(const UpdateEntry& entry, std::optional<UpdateEvent> event, Done done);
  // `changed` is false when the change did not apply: no such row, or its state is
  // not change.only_from (then the event is not added either).
  using Changed = std::function<void(const Status&, bool changed)>;
  void change(const std::string& update_id, UpdateChange change, std::optional<UpdateEvent> event,
              Changed done);
  // Adds one event and touches nothing else of the row.
  void add_event(const std::string& update_id, UpdateEvent event, Done done);
  // Marks the final state acknowledged to the device (only that column).
  void set_acked(const std::string& update_id, Done done);
  void save(const Campaign& campaign, Done done);
  void erase(const std::string& update_id, Done done);

  // Waits until every queued write is applied (shutdown, tests).
  void flush();

 private:
  // Runs on the writer thread, inside the batch's transaction.
  using Write = std::function<Status(sql::Connection&)>;
  using Queued = std::pair<Write, Done>;
  UpdateStore(std::unique_ptr<sql::Connection> reader, std::unique_ptr<sql::Connection> writer,
              LoopInbox& inbox);
  void queue(Write write, Done done);

  std::unique_ptr<sql::Connection> reader_;  // the loop thread's (the loads)
  std::unique_ptr<sql::Connection> writer_;  // the writer thread's
  LoopInbox& inbox_;
  // Everything queued since the last batch commits in one transaction; each
  // write's completion is posted to the loop after it.
  BatchWriter<std::deque<Queued>> batches_;  // last: its thread uses the members above
};

}  // namespace tether::hub
