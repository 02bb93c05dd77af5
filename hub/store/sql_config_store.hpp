// The ConfigStore on the hub's SQL store (hub/store/sql/database.hpp): with
// SQLite, STATE_DIR/config.db (WAL, synchronous=FULL), a file of its own so that
// config writes never wait behind the registry's or the monitoring store's
// batches; with PostgreSQL, the tables config_versions and config_reported.
//
// The loop thread reads through one connection; a writer thread owns another and
// commits everything queued since its last batch in one transaction, then runs
// the completions. Until its batch is done, a queued write is also kept in memory
// and laid over what the reads find in the file (read-your-writes).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hub/store/batch_writer.hpp"
#include "hub/store/config_store.hpp"
#include "hub/store/sql/database.hpp"

namespace tether::hub {

class SqlConfigStore final : public ConfigStore {
 public:
  // Connects to `url` (SQLite: DIR/config.db, creating DIR 0700 when missing) and
  // brings the schema up to date (migrations of the store "config").
  static Result<std::unique_ptr<SqlConfigStore>> open(const sql::StoreUrl& url);
  // The schema, version by version; version 1 is the config.db of older hubs.
  static const std::vector<sql::Migration>& migrations();
  // Writes what is still queued, then closes.
  ~SqlConfigStore() override;
  SqlConfigStore(const SqlConfigStore&) = delete;
  SqlConfigStore& operator=(const SqlConfigStore&) = delete;

  void put_version(const std::string& device, const ConfigVersion& version,
                   Committed done) override;
  void put_reported(const std::string& device, const ReportedConfig& reported) override;
  Result<std::optional<ConfigVersion>> latest(const std::string& device) override;
  Result<std::vector<ConfigVersion>> history(const std::string& device, std::size_t limit) override;
  Result<std::optional<ReportedConfig>> reported(const std::string& device) override;
  Status flush() override;

 private:
  struct VersionWrite {
    std::string device;
    ConfigVersion version;
    Committed done;
  };
  struct ReportedWrite {
    std::string device;
    ReportedConfig reported;
  };
  struct Op {
    std::uint64_t seq = 0;
    std::variant<VersionWrite, ReportedWrite> write;
  };

  SqlConfigStore(std::unique_ptr<sql::Connection> reader, std::unique_ptr<sql::Connection> writer);
  void enqueue(Op op);
  Status write_batch(std::deque<Op>& batch);
  Status write_op(const Op& op);
  // Drops the overlay entries written by `batch` (unless a later write replaced them).
  void settle(const std::deque<Op>& batch);  // under the writer's lock

  std::unique_ptr<sql::Connection> reader_;  // the loop thread's
  std::unique_ptr<sql::Connection> writer_;  // the writer thread's

  // Guarded by the writer's lock (batches_.queue / inspect / settle):
  // queued or in-flight writes, by key, with the seq of the write that made them.
  std::map<std::pair<std::string, std::uint64_t>, std::pair<std::uint64_t, ConfigVersion>>
      version_overlay_;
  std::map<std::string, std::pair<std::uint64_t, ReportedConfig>, std::less<>> reported_overlay_;
  std::uint64_t write_seq_ = 0;
  BatchWriter<std::deque<Op>> batches_;  // last: its thread uses the members above
};

}  // namespace tether::hub
