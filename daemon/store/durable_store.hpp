// The daemon's durable store: append-only logs (monitoring records, command results)
// and key/value documents (config, update state, remembered ids) in one SQLite
// database, `<state-dir>/tether.db`, in WAL mode. docs/store.md describes the
// guarantees, the schema and the bounds.
//
// Threading: every method is called on the loop thread, and every `done` runs on the
// loop thread, later (never inside the call). One writer thread owns the database
// connection; the loop only queues operations and reads the in-memory log stats.
//
// Durability: a write's `done` runs only after the transaction holding it has been
// committed and synced to disk. Operations queued while the writer is busy are run
// together in ONE transaction (group commit), so concurrent writers share one sync.
// Each operation runs in its own savepoint inside that transaction: one failing
// operation fails alone, and a failed commit fails every operation of the batch (so
// does an error after which SQLite rolled the whole transaction back, as it may on
// a full disk). A failed write leaves nothing behind and uses no sequence number.
//
// Lifetime: destroying the store waits for the operations already queued to be
// committed, then closes the database; their `done` callbacks are NOT called (the
// store is being torn down with its owners). No callback runs after destruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::daemon {
class EventLoop;
}

namespace tether::daemon::store {

// Records and documents are opaque bytes (typically a msgpack body).
using Bytes = tether::protocol::Bytes;

// What a log holds now, as committed. `first_seq`/`last_seq` are 0 while the log is
// empty; `high_water` is the last sequence number ever assigned in the log (it
// survives erasing every record and restarts, so sequence numbers never repeat).
struct LogStats {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t high_water = 0;
};

struct LogRecord {
  std::uint64_t seq = 0;
  Bytes bytes;
};

// Records removed to make room: the range [first, last] held `count` records of
// `bytes` bytes in total. All zero when nothing was removed.
struct DroppedRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

// The result of append_within_budget(). When old records had to go, `dropped` says
// which, and `dropped_record_seq` is the sequence number of the marker record that
// was appended (just before the new record) or rewritten in the same transaction.
struct BudgetedAppend {
  std::uint64_t seq = 0;
  std::optional<DroppedRange> dropped;
  std::uint64_t dropped_record_seq = 0;
};

struct Document {
  std::string key;
  Bytes bytes;
};

// A multi-key document change committed atomically: after a crash, either every put
// and erase is visible or none is. Erases of missing keys are not errors. A key
// named in both lists ends up erased (erases run after puts).
struct DocumentChange {
  std::vector<Document> puts;
  std::vector<std::string> erases;
};

class DurableStore {
 public:
  struct Options {
    // `device.state-dir`: created (mode 0700) when missing.
    std::filesystem::path directory;
    std::string file_name = "tether.db";
    // Operations queued and not yet committed. Past it, a call fails with kBusy.
    std::size_t max_queued_operations = 8192;
    // Bytes of record and document payload queued and not yet committed.
    std::size_t max_queued_bytes = std::size_t{64} << 20U;
    // Largest single record or document; a bigger one is kInvalidArgument.
    std::size_t max_value_bytes = std::size_t{16} << 20U;
  };

  // Monotonic counters of the writer, for benchmarks and diagnostics. Thread-safe.
  struct Counters {
    std::uint64_t transactions = 0;  // committed write transactions (one sync each)
    std::uint64_t operations = 0;    // operations completed (reads included)
  };

  template <typename T>
  using Done = std::function<void(Result<T>)>;
  using StatusDone = std::function<void(Status)>;

  // What a DroppedRecordMaker decided: a marker record to append (replaces_seq == 0),
  // or new bytes for a marker already stored at `replaces_seq` — so that a loss that
  // goes on while nothing is sent stays ONE marker whose range grows, instead of one
  // marker per dropped batch.
  struct DropMarker {
    Bytes bytes;
    std::uint64_t replaces_seq = 0;
  };
  // Builds the "records were dropped" marker, given the range removed and the seq a
  // new marker would get. Runs on the writer thread: it must not touch loop-owned
  // state. Its bytes must not be longer than for a range and seq of all UINT64_MAX
  // (that size is reserved when computing what to drop). A marker to replace that is
  // no longer stored is appended instead.
  using DroppedRecordMaker =
      std::function<DropMarker(const DroppedRange& range, std::uint64_t seq)>;

  // Opens (creating when missing) the database, checks it (PRAGMA quick_check),
  // applies schema migrations and loads the log stats. Blocks: call it before the
  // loop runs (at daemon start). Every failure is kStorageFailure naming the path;
  // an existing database is never reset.
  static Result<std::unique_ptr<DurableStore>> open(EventLoop& loop, Options options);

  ~DurableStore();
  DurableStore(const DurableStore&) = delete;
  DurableStore& operator=(const DurableStore&) = delete;

  const std::filesystem::path& path() const;

  // ---- Logs: append-only, one sequence space per name ----

  // Stores `bytes` as the next record of `log`; `done` gets its sequence number once
  // it is durable.
  void append(std::string_view log, Bytes bytes, Done<std::uint64_t> done);
  // Stores the records in order with consecutive sequence numbers, all or none;
  // `done` gets the first one.
  void append_batch(std::string_view log, std::vector<Bytes> records, Done<std::uint64_t> done);
  // Stores `bytes` so that the log's total stays within `max_log_bytes`: when it
  // would not fit, the oldest records are erased, and a marker record built by
  // `make_dropped` from the removed range is appended before `bytes` (or replaces an
  // earlier marker, as the maker says), all in one
  // savepoint (the loss is never silent, even across a crash). kInvalidArgument
  // when the record and the marker alone exceed the budget.
  void append_within_budget(std::string_view log, Bytes bytes, std::uint64_t max_log_bytes,
                            DroppedRecordMaker make_dropped, Done<BudgetedAppend> done);
  // Up to `max_records` records with seq > `after_seq`, in seq order, stopping before
  // the record that would exceed `max_bytes` (at least one record is returned when
  // one exists). Reads run on the writer thread, after the writes queued before them.
  void read(std::string_view log, std::uint64_t after_seq, std::size_t max_records,
            std::size_t max_bytes, Done<std::vector<LogRecord>> done);
  // Erases every record with seq <= `seq` (a cumulative ack).
  void erase_through(std::string_view log, std::uint64_t seq, StatusDone done);
  // Erases the oldest records until the log holds at most `max_log_bytes`.
  void trim_to_bytes(std::string_view log, std::uint64_t max_log_bytes, Done<DroppedRange> done);
  // The committed state of `log`, from memory (no I/O). Updated just before the
  // `done` of each write that changed it runs.
  LogStats stats(std::string_view log) const;

  // ---- Documents: key/value blobs with atomic replace ----

  void put(std::string key, Bytes bytes, StatusDone done);
  void erase(std::string key, StatusDone done);
  void commit(DocumentChange change, StatusDone done);
  // nullopt when the key does not exist.
  void get(std::string key, Done<std::optional<Bytes>> done);
  // Every document whose key starts with `prefix`, in key order.
  void list(std::string prefix, Done<std::vector<Document>> done);

  Counters counters() const;

  class Impl;

 private:
  explicit DurableStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::daemon::store
