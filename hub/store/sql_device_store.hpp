// The Store on the hub's SQL database (store.url: SQLite's DIR/hub.db in WAL mode,
// or PostgreSQL): one row per device with the SHA-256 of its token (the token
// itself is never stored) and what the hub last learned about it.
//
// Two connections: the loop thread reads through one; a writer thread owns the
// other and applies queued presence/status writes in one transaction per batch.
// Reads go on while a batch commits (SQLite's WAL, PostgreSQL's MVCC). Writes queued while a batch
// is being written coalesce per device (last value wins), so the queue is bounded by the number of
// devices, not by the message rate.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/store/batch_writer.hpp"
#include "hub/store/sql/database.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

class SqlDeviceStore final : public Store {
 public:
  // Opens the registry at `url` (SQLite: DIR/hub.db, creating DIR 0700) and brings
  // its schema up to date. `errors` (may be null) hears about failed write batches.
  static Result<std::unique_ptr<SqlDeviceStore>> open(const sql::StoreUrl& url,
                                                      WriteErrorSink* errors = nullptr);
  // Applies what is still queued, then closes.
  ~SqlDeviceStore() override;
  SqlDeviceStore(const SqlDeviceStore&) = delete;
  SqlDeviceStore& operator=(const SqlDeviceStore&) = delete;

  Status put_device(const std::string& id, const std::string& token_sha256,
                    std::int64_t now_ms) override;
  // In one transaction: all registered, or none.
  Status put_devices(const std::vector<DeviceRegistration>& devices, std::int64_t now_ms) override;
  Result<std::optional<std::string>> device_for_token(const std::string& token_sha256) override;
  Result<std::optional<DeviceRecord>> get(const std::string& id) override;
  Result<std::vector<DeviceRecord>> list() override;
  void record_seen(const std::string& id, std::int64_t now_ms) override;
  void record_status(const std::string& id, const StatusUpdate& status,
                     std::int64_t now_ms) override;
  Status flush() override;

  // Batches committed so far (tests look at the batching through this).
  std::uint64_t batches_written() const;

 private:
  // The not-yet-applied changes to one device's row.
  struct PendingWrite {
    std::optional<std::int64_t> seen_ms;
    std::optional<StatusUpdate> status;
    std::int64_t status_ms = 0;
  };
  using Batch = std::map<std::string, PendingWrite, std::less<>>;

  SqlDeviceStore(std::unique_ptr<sql::Connection> reader, std::unique_ptr<sql::Connection> writer,
                 WriteErrorSink* errors);
  Status write_batch(const Batch& batch);
  // Lays queued and in-flight changes over a row read from the database.
  static void overlay(DeviceRecord& record, const Batch& queued, const Batch& in_flight);

  std::unique_ptr<sql::Connection> reader_;  // loop thread
  std::unique_ptr<sql::Connection> writer_;  // writer thread
  WriteErrorSink* errors_;
  BatchWriter<Batch> batches_;  // last: its thread uses the members above
};

}  // namespace tether::hub
