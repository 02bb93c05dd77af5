// The MonitoringStore on the hub's SQL database (store.url). On SQLite it has a
// file of its own, DIR/monitoring.db (WAL), so that record batches never wait for
// the device registry's writer (hub.db); on PostgreSQL its tables sit next to the
// others'.
//
// The loop thread reads through one connection; a writer thread owns another and
// commits everything queued since the last batch in one transaction (its records
// inserted many rows per statement), then runs the batch's completions. Every
// `retention.prune_interval_s` (and when asked) the writer deletes records past the retention and
// beyond the per-stream cap, in the same thread, so pruning never runs on the loop.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "hub/store/batch_writer.hpp"
#include "hub/store/monitoring_store.hpp"
#include "hub/store/sql/database.hpp"

namespace tether::hub {

class SqlMonitoringStore final : public MonitoringStore {
 public:
  // Opens the store at `url` and brings its schema up to date.
  static Result<std::unique_ptr<SqlMonitoringStore>> open(const sql::StoreUrl& url,
                                                          const MonitoringRetention& retention);
  ~SqlMonitoringStore() override;
  SqlMonitoringStore(const SqlMonitoringStore&) = delete;
  SqlMonitoringStore& operator=(const SqlMonitoringStore&) = delete;

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

  // A record of the batch being written, waiting for its insert.
  struct PendingRecord {
    const std::string* device;
    const MonitoringRecord* record;
  };

  SqlMonitoringStore(std::unique_ptr<sql::Connection> reader,
                     std::unique_ptr<sql::Connection> writer, const MonitoringRetention& retention);
  void enqueue(Op op);
  Status write_batch(std::deque<Op>& batch);
  Status write_op(Op& op);
  // Inserts `pending` (many rows per statement, the last few one by one),
  // then updates the open alerts from the alert records that were new.
  Status insert_records(const std::vector<PendingRecord>& pending, std::int64_t received_ms);
  Status update_alert(const PendingRecord& stored);
  Status prune(std::int64_t now_ms);

  std::unique_ptr<sql::Connection> reader_;  // loop thread
  std::unique_ptr<sql::Connection> writer_;  // writer thread
  MonitoringRetention retention_;
  // Writer thread: the multi-row insert's text and its parameters, built once and
  // reused, so the hot path allocates nothing per record (the connection keeps
  // each statement prepared).
  // 64 rows, 8 rows, one row. Data-only statements leave the alert columns
  // NULL; the multi-row forms with alerts return the rows they stored.
  std::array<std::string, 3> insert_data_sql_;
  std::array<std::string, 3> insert_alerts_sql_;
  std::vector<sql::Param> params_;
  std::vector<PendingRecord> pending_;

  BatchWriter<std::deque<Op>> batches_;  // last: its thread uses the members above
};

}  // namespace tether::hub
