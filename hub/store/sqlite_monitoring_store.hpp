// The MonitoringStore in SQLite: STATE_DIR/monitoring.db (WAL), a file of its own
// so that record batches never wait for the device registry's writer (hub.db).
//
// The loop thread reads through one connection; a writer thread owns another and
// commits everything queued since the last batch in one transaction, then runs
// the batch's completions. Every `retention.prune_interval_s` (and when asked) the
// writer deletes records past the retention and beyond the per-stream cap, in the
// same thread, so pruning never runs on the loop.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "hub/store/batch_writer.hpp"
#include "hub/store/monitoring_store.hpp"
#include "hub/store/sqlite_db.hpp"

struct sqlite3;

namespace tether::hub {

class SqliteMonitoringStore final : public MonitoringStore {
 public:
  static Result<std::unique_ptr<SqliteMonitoringStore>> open(const std::string& state_dir,
                                                             const MonitoringRetention& retention);
  ~SqliteMonitoringStore() override;
  SqliteMonitoringStore(const SqliteMonitoringStore&) = delete;
  SqliteMonitoringStore& operator=(const SqliteMonitoringStore&) = delete;

  void append(const std::string& device, std::vector<MonitoringRecord> records,
              Committed done) override;
  void record_status(const std::string& device, const DeviceStatusRecord& status) override;
  void record_presence(const std::string& device, const PresenceEvent& event) override;

  Result<std::vector<StoredRecord>> latest_per_stream(const std::string& device) override;
  Result<std::vector<StoredRecord>> records_after(const std::string& device, std::int64_t cursor,
                                                  std::size_t limit) override;
  Result<std::vector<StoredRecord>> alert_history(const std::string& device,
                                                  std::size_t limit) override;
  Result<std::vector<OpenAlert>> open_alerts(const std::string& device) override;
  Result<std::vector<std::pair<std::string, std::size_t>>> open_alert_counts() override;
  Result<std::optional<DeviceStatusRecord>> status(const std::string& device) override;
  Result<std::vector<PresenceEvent>> presence(const std::string& device,
                                              std::size_t limit) override;
  Result<std::vector<SeriesPoint>> series(const SeriesQuery& query) override;
  Result<std::int64_t> count(const std::string& device) override;
  Result<std::int64_t> last_cursor(const std::string& device) override;
  Status flush() override;

  // Queues a prune as if the clock read `now_ms`, and waits for it (tests).
  Status prune_now(std::int64_t now_ms);
  // Batches committed so far.
  std::uint64_t batches_written() const;

 private:
  struct Append {
    std::string device;
    std::vector<MonitoringRecord> records;
    Committed done;
  };
  struct StatusWrite {
    std::string device;
    DeviceStatusRecord status;
  };
  struct PresenceWrite {
    std::string device;
    PresenceEvent event;
  };
  struct Prune {
    std::int64_t now_ms;
  };
  using Op = std::variant<Append, StatusWrite, PresenceWrite, Prune>;

  SqliteMonitoringStore(sqlite3* reader, sqlite3* writer, const MonitoringRetention& retention);
  void enqueue(Op op);
  Status write_batch(std::deque<Op>& batch);
  Status write_op(Op& op);
  Status prune(std::int64_t now_ms);
  Result<std::vector<StoredRecord>> query_records(const char* sql, const std::string& device,
                                                  std::int64_t a, std::int64_t b);

  sqlite3* reader_;
  sqlite3* writer_;
  MonitoringRetention retention_;
  // The per-record statements, prepared once (writer thread only).
  std::unique_ptr<sqlite::Stmt> insert_record_;
  std::unique_ptr<sqlite::Stmt> upsert_alert_;

  BatchWriter<std::deque<Op>> batches_;  // last: its thread uses the members above
};

}  // namespace tether::hub
