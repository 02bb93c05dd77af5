#include "daemon/store/durable_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "daemon/loop/event_loop.hpp"
#include "daemon/store/schema.hpp"
#include "daemon/store/sqlite_connection.hpp"

namespace tether::daemon::store {
namespace {

struct Unit {};

std::int64_t to_sql(std::uint64_t value) {
  return value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
             ? std::numeric_limits<std::int64_t>::max()
             : static_cast<std::int64_t>(value);
}

std::uint64_t from_sql(std::int64_t value) {
  return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

Error storage_error(const std::filesystem::path& path, const std::string& what) {
  return Error(ErrorCode::kStorageFailure, path.string() + ": " + what);
}

// Creates the state directory when missing and syncs its parent, so that a database
// created in it survives a power cut.
Status prepare_directory(const std::filesystem::path& directory) {
  std::error_code ec;
  const auto status = std::filesystem::status(directory, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
      return storage_error(directory,
                           std::string("creating the state directory: ") + std::strerror(errno));
    }
    const auto parent = directory.has_parent_path() ? directory.parent_path() : ".";
    const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::fsync(fd);
      ::close(fd);
    }
    return {};
  }
  if (ec) return storage_error(directory, "reading the state directory: " + ec.message());
  if (status.type() != std::filesystem::file_type::directory) {
    return storage_error(directory, "the state directory is not a directory");
  }
  return {};
}

}  // namespace

// ---- Operations: what the loop queues and the writer runs ----

// State the writer keeps per log: its row id and the committed stats.
struct LogState {
  std::int64_t id = 0;
  LogStats stats;
};

class Writer;

class Operation {
 public:
  virtual ~Operation() = default;
  Operation() = default;
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

  // The log this operation reads or changes; empty for documents.
  std::string log;
  // Payload bytes it carries, for the queue bound.
  std::size_t payload_bytes = 0;
  bool writes = true;

  // Runs on the writer thread inside the batch's transaction. A failure is recorded
  // by the operation itself and returned so that its savepoint is rolled back.
  virtual Status execute(Writer& writer) = 0;
  // Replaces the outcome with `error` (a failed commit, a full queue).
  virtual void fail(const Error& error) = 0;
  // Calls the caller's `done` on the loop thread.
  virtual void deliver() = 0;
};

template <typename T>
class BasicOperation final : public Operation {
 public:
  using Body = std::function<Result<T>(Writer&)>;
  BasicOperation(Body body, std::function<void(Result<T>)> done)
      : body_(std::move(body)), done_(std::move(done)) {}

  Status execute(Writer& writer) override {
    result_.emplace(body_(writer));
    if (!result_->ok()) return result_->error();
    return {};
  }
  void fail(const Error& error) override { result_.emplace(error); }
  void deliver() override {
    if (!done_) return;
    if (!result_) result_.emplace(Error(ErrorCode::kInternal, "store operation never ran"));
    done_(std::move(*result_));
  }

 private:
  Body body_;
  std::function<void(Result<T>)> done_;
  std::optional<Result<T>> result_;
};

std::function<void(Result<Unit>)> status_done(DurableStore::StatusDone done) {
  if (!done) return {};
  return [done = std::move(done)](const Result<Unit>& result) {
    done(result.ok() ? Status::Ok() : Status(result.error()));
  };
}

// The writer thread's side: the connection, the per-log state, and the SQL of each
// operation. Only the writer thread touches it after open.
class Writer {
 public:
  explicit Writer(std::unique_ptr<SqliteConnection> connection)
      : connection_(std::move(connection)) {}

  SqliteConnection& connection() { return *connection_; }
  std::unordered_map<std::string, LogState>& logs() { return logs_; }

  Status load_logs() {
    auto logs = connection_->prepare("SELECT id, name, high_water FROM logs");
    if (!logs.ok()) return logs.error();
    auto totals = connection_->prepare(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(min(seq), 0), coalesce(max(seq), 0) "
        "FROM records WHERE log_id = ?");
    if (!totals.ok()) return totals.error();
    StatementUse use(**logs);
    while (true) {
      auto row = use->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      LogState state;
      state.id = use->column_int(0);
      state.stats.high_water = from_sql(use->column_int(2));
      StatementUse sum(**totals);
      if (Status st = sum->bind(1, state.id); !st.ok()) return st;
      auto summed = sum->step();
      if (!summed.ok()) return summed.error();
      if (*summed) {
        state.stats.count = from_sql(sum->column_int(0));
        state.stats.bytes = from_sql(sum->column_int(1));
        state.stats.first_seq = from_sql(sum->column_int(2));
        state.stats.last_seq = from_sql(sum->column_int(3));
      }
      logs_.emplace(use->column_text(1), state);
    }
    return {};
  }

  // The state of `name`, creating the log's row when it does not exist yet.
  Result<LogState*> log_for_write(const std::string& name) {
    auto found = logs_.find(name);
    if (found != logs_.end()) return &found->second;
    auto insert = connection_->prepare("INSERT INTO logs (name, high_water) VALUES (?, 0)");
    if (!insert.ok()) return insert.error();
    if (Status st = (*insert)->bind(1, name); !st.ok()) return st.error();
    if (Status st = (*insert)->run(); !st.ok()) return st.error();
    auto id = connection_->prepare("SELECT id FROM logs WHERE name = ?");
    if (!id.ok()) return id.error();
    StatementUse use(**id);
    if (Status st = use->bind(1, name); !st.ok()) return st.error();
    auto row = use->step();
    if (!row.ok()) return row.error();
    if (!*row) return connection_->error("creating log " + name);
    LogState state;
    state.id = use->column_int(0);
    return &logs_.emplace(name, state).first->second;
  }

  // Persists the high-water mark of a log, in the batch's transaction, so that
  // sequence numbers continue after a restart even once every record is erased.
  Status save_high_water(const LogState& log) {
    auto mark = connection_->prepare("UPDATE logs SET high_water = ? WHERE id = ?");
    if (!mark.ok()) return mark.error();
    if (Status st = (*mark)->bind(1, to_sql(log.stats.high_water)); !st.ok()) return st;
    if (Status st = (*mark)->bind(2, log.id); !st.ok()) return st;
    return (*mark)->run();
  }

  const LogState* log_for_read(const std::string& name) const {
    auto found = logs_.find(name);
    return found == logs_.end() ? nullptr : &found->second;
  }

  Result<std::uint64_t> append(LogState& log, const Bytes& bytes) {
    const std::uint64_t seq = log.stats.high_water + 1;
    auto insert =
        connection_->prepare("INSERT INTO records (log_id, seq, size, data) VALUES (?, ?, ?, ?)");
    if (!insert.ok()) return insert.error();
    Statement& statement = **insert;
    if (Status st = statement.bind(1, log.id); !st.ok()) return st.error();
    if (Status st = statement.bind(2, to_sql(seq)); !st.ok()) return st.error();
    if (Status st = statement.bind(3, static_cast<std::int64_t>(bytes.size())); !st.ok()) {
      return st.error();
    }
    if (Status st = statement.bind_blob(4, bytes); !st.ok()) return st.error();
    if (Status st = statement.run(); !st.ok()) return st.error();
    // The high-water mark reaches the logs table once per batch, in save_high_water().
    log.stats.high_water = seq;
    log.stats.count += 1;
    log.stats.bytes += bytes.size();
    if (log.stats.first_seq == 0) log.stats.first_seq = seq;
    log.stats.last_seq = seq;
    return seq;
  }

  // Rewrites the record `seq` in place (same seq). false: no such record.
  Result<bool> replace(LogState& log, std::uint64_t seq, const Bytes& bytes) {
    auto size_of = connection_->prepare("SELECT size FROM records WHERE log_id = ? AND seq = ?");
    if (!size_of.ok()) return size_of.error();
    std::uint64_t old_size = 0;
    {
      StatementUse use(**size_of);
      if (Status st = use->bind(1, log.id); !st.ok()) return st.error();
      if (Status st = use->bind(2, to_sql(seq)); !st.ok()) return st.error();
      auto row = use->step();
      if (!row.ok()) return row.error();
      if (!*row) return false;
      old_size = from_sql(use->column_int(0));
    }
    auto update =
        connection_->prepare("UPDATE records SET size = ?, data = ? WHERE log_id = ? AND seq = ?");
    if (!update.ok()) return update.error();
    Statement& statement = **update;
    if (Status st = statement.bind(1, static_cast<std::int64_t>(bytes.size())); !st.ok()) {
      return st.error();
    }
    if (Status st = statement.bind_blob(2, bytes); !st.ok()) return st.error();
    if (Status st = statement.bind(3, log.id); !st.ok()) return st.error();
    if (Status st = statement.bind(4, to_sql(seq)); !st.ok()) return st.error();
    if (Status st = statement.run(); !st.ok()) return st.error();
    log.stats.bytes = log.stats.bytes - old_size + bytes.size();
    return true;
  }

  // Erases the oldest records until at most `max_bytes` remain.
  Result<DroppedRange> trim(LogState& log, std::uint64_t max_bytes) {
    DroppedRange dropped;
    if (log.stats.bytes <= max_bytes) return dropped;
    auto oldest =
        connection_->prepare("SELECT seq, size FROM records WHERE log_id = ? ORDER BY seq");
    if (!oldest.ok()) return oldest.error();
    std::uint64_t next_first = 0;
    {
      StatementUse use(**oldest);
      if (Status st = use->bind(1, log.id); !st.ok()) return st.error();
      while (true) {
        auto row = use->step();
        if (!row.ok()) return row.error();
        if (!*row) break;
        const std::uint64_t seq = from_sql(use->column_int(0));
        if (log.stats.bytes - dropped.bytes <= max_bytes) {
          next_first = seq;
          break;
        }
        if (dropped.count == 0) dropped.first = seq;
        dropped.last = seq;
        dropped.count += 1;
        dropped.bytes += from_sql(use->column_int(1));
      }
    }
    if (Status st = erase_range(log, dropped.last); !st.ok()) return st.error();
    apply_erase(log, dropped.count, dropped.bytes, next_first);
    return dropped;
  }

  Status erase_through(LogState& log, std::uint64_t seq) {
    auto totals = connection_->prepare(
        "SELECT count(*), coalesce(sum(size), 0) FROM records WHERE log_id = ? AND seq <= ?");
    if (!totals.ok()) return totals.error();
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    {
      StatementUse use(**totals);
      if (Status st = use->bind(1, log.id); !st.ok()) return st;
      if (Status st = use->bind(2, to_sql(seq)); !st.ok()) return st;
      auto row = use->step();
      if (!row.ok()) return row.error();
      if (*row) {
        count = from_sql(use->column_int(0));
        bytes = from_sql(use->column_int(1));
      }
    }
    if (count == 0) return {};
    if (Status st = erase_range(log, seq); !st.ok()) return st;
    auto first = connection_->prepare("SELECT min(seq) FROM records WHERE log_id = ?");
    if (!first.ok()) return first.error();
    std::uint64_t next_first = 0;
    {
      StatementUse use(**first);
      if (Status st = use->bind(1, log.id); !st.ok()) return st;
      auto row = use->step();
      if (!row.ok()) return row.error();
      if (*row && !use->column_is_null(0)) next_first = from_sql(use->column_int(0));
    }
    apply_erase(log, count, bytes, next_first);
    return {};
  }

  Result<std::vector<LogRecord>> read(const LogState& log, std::uint64_t after_seq,
                                      std::size_t max_records, std::size_t max_bytes) {
    std::vector<LogRecord> records;
    if (max_records == 0) return records;
    auto select = connection_->prepare(
        "SELECT seq, size, data FROM records WHERE log_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    if (!select.ok()) return select.error();
    StatementUse use(**select);
    if (Status st = use->bind(1, log.id); !st.ok()) return st.error();
    if (Status st = use->bind(2, to_sql(after_seq)); !st.ok()) return st.error();
    if (Status st = use->bind(3, to_sql(max_records)); !st.ok()) return st.error();
    std::size_t total = 0;
    while (true) {
      auto row = use->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      const auto size = static_cast<std::size_t>(from_sql(use->column_int(1)));
      if (!records.empty() && total + size > max_bytes) break;
      total += size;
      records.push_back(LogRecord{from_sql(use->column_int(0)), use->column_blob(2)});
    }
    return records;
  }

  Status put(const std::string& key, const Bytes& bytes) {
    auto upsert = connection_->prepare(
        "INSERT INTO documents (key, data) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET data = excluded.data");
    if (!upsert.ok()) return upsert.error();
    if (Status st = (*upsert)->bind(1, key); !st.ok()) return st;
    if (Status st = (*upsert)->bind_blob(2, bytes); !st.ok()) return st;
    return (*upsert)->run();
  }

  Status erase(const std::string& key) {
    auto remove = connection_->prepare("DELETE FROM documents WHERE key = ?");
    if (!remove.ok()) return remove.error();
    if (Status st = (*remove)->bind(1, key); !st.ok()) return st;
    return (*remove)->run();
  }

  Result<std::optional<Bytes>> get(const std::string& key) {
    auto select = connection_->prepare("SELECT data FROM documents WHERE key = ?");
    if (!select.ok()) return select.error();
    StatementUse use(**select);
    if (Status st = use->bind(1, key); !st.ok()) return st.error();
    auto row = use->step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<Bytes>();
    return std::optional<Bytes>(use->column_blob(0));
  }

  Result<std::vector<Document>> list(const std::string& prefix) {
    std::vector<Document> documents;
    auto select =
        connection_->prepare("SELECT key, data FROM documents WHERE key >= ? ORDER BY key");
    if (!select.ok()) return select.error();
    StatementUse use(**select);
    if (Status st = use->bind(1, prefix); !st.ok()) return st.error();
    while (true) {
      auto row = use->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      std::string key = use->column_text(0);
      if (key.compare(0, prefix.size(), prefix) != 0) break;
      documents.push_back(Document{std::move(key), use->column_blob(1)});
    }
    return documents;
  }

 private:
  Status erase_range(const LogState& log, std::uint64_t through) {
    auto remove = connection_->prepare("DELETE FROM records WHERE log_id = ? AND seq <= ?");
    if (!remove.ok()) return remove.error();
    if (Status st = (*remove)->bind(1, log.id); !st.ok()) return st;
    if (Status st = (*remove)->bind(2, to_sql(through)); !st.ok()) return st;
    return (*remove)->run();
  }

  static void apply_erase(LogState& log, std::uint64_t count, std::uint64_t bytes,
                          std::uint64_t next_first) {
    log.stats.count -= count;
    log.stats.bytes -= bytes;
    if (log.stats.count == 0) {
      log.stats.first_seq = 0;
      log.stats.last_seq = 0;
    } else {
      log.stats.first_seq = next_first;
    }
  }

  std::unique_ptr<SqliteConnection> connection_;
  std::unordered_map<std::string, LogState> logs_;
};

// ---- The store ----

// What completions need on the loop thread. Posted callbacks hold it weakly: once the
// store is gone, they drop their operations instead of calling back.
struct LoopSide {
  std::unordered_map<std::string, LogStats> stats;
  // While completions are delivered, the operations their callbacks queue wake the
  // writer once, after the last callback, not at the first: the writer then takes
  // them as one batch instead of committing the first few alone.
  bool delivering = false;
  bool wake_writer = false;
  DurableStore::Impl* impl = nullptr;
};

class DurableStore::Impl {
 public:
  Impl(EventLoop& loop, Options options, std::unique_ptr<Writer> writer)
      : loop_(loop),
        options_(std::move(options)),
        path_(options_.directory / options_.file_name),
        writer_(std::move(writer)),
        loop_side_(std::make_shared<LoopSide>()) {
    loop_side_->impl = this;
    for (const auto& [name, state] : writer_->logs()) loop_side_->stats[name] = state.stats;
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void wake_writer() { cv_.notify_one(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  const std::filesystem::path& path() const { return path_; }
  const Options& options() const { return options_; }

  void enqueue(std::unique_ptr<Operation> op) {
    std::unique_ptr<Operation> refused;
    {
      std::lock_guard lock(mu_);
      if (!stopping_ && queue_.size() < options_.max_queued_operations &&
          queued_bytes_ + op->payload_bytes <= options_.max_queued_bytes) {
        queued_bytes_ += op->payload_bytes;
        queue_.push_back(std::move(op));
      } else {
        refused = std::move(op);
      }
    }
    if (refused) {
      reject(std::move(refused),
             Error(ErrorCode::kBusy, path_.string() + ": the store's write queue is full (" +
                                         std::to_string(options_.max_queued_operations) +
                                         " operations or " +
                                         std::to_string(options_.max_queued_bytes) + " bytes)"));
      return;
    }
    if (loop_side_->delivering) {
      loop_side_->wake_writer = true;
    } else {
      cv_.notify_one();
    }
  }

  // Queues a write whose largest value is `largest` bytes, or fails it when that is
  // over max_value_bytes (`what`: "record", "document").
  void enqueue_sized(std::unique_ptr<Operation> op, std::size_t largest, const char* what) {
    if (largest > options_.max_value_bytes) {
      reject(std::move(op), Error(ErrorCode::kInvalidArgument,
                                  std::string(what) + " of " + std::to_string(largest) +
                                      " bytes is over the store's limit of " +
                                      std::to_string(options_.max_value_bytes)));
      return;
    }
    enqueue(std::move(op));
  }

  // Fails `op` on the loop (later, never inside the caller's call).
  void reject(std::unique_ptr<Operation> op, const Error& error) {
    op->fail(error);
    deliver_later({}, std::move(op));
  }

  LogStats stats(std::string_view log) const {
    auto found = loop_side_->stats.find(std::string(log));
    return found == loop_side_->stats.end() ? LogStats{} : found->second;
  }

  Counters counters() const {
    return Counters{transactions_.load(std::memory_order_relaxed),
                    operations_.load(std::memory_order_relaxed)};
  }

 private:
  using StatsUpdate = std::vector<std::pair<std::string, LogStats>>;

  void deliver_later(StatsUpdate stats, std::unique_ptr<Operation> op) {
    std::vector<std::unique_ptr<Operation>> ops;
    ops.push_back(std::move(op));
    post_completions(std::move(stats), std::move(ops));
  }

  void post_completions(StatsUpdate stats, std::vector<std::unique_ptr<Operation>> ops) {
    struct Completion {
      StatsUpdate stats;
      std::vector<std::unique_ptr<Operation>> ops;
    };
    // std::function needs a copyable callable: the batch travels in a shared_ptr.
    auto completion = std::make_shared<Completion>(Completion{std::move(stats), std::move(ops)});
    std::weak_ptr<LoopSide> weak = loop_side_;
    loop_.post([weak = std::move(weak), completion = std::move(completion)] {
      auto side = weak.lock();
      if (!side) return;  // the store is gone: no callbacks
      for (auto& [name, committed] : completion->stats) side->stats[name] = committed;
      side->delivering = true;
      for (auto& op : completion->ops) {
        op->deliver();
        // The store may have been destroyed by this callback.
        if (weak.expired()) return;
      }
      side->delivering = false;
      if (side->wake_writer) {
        side->wake_writer = false;
        side->impl->wake_writer();
      }
    });
  }

  void run() {
    while (true) {
      std::deque<std::unique_ptr<Operation>> batch;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued is committed
        batch.swap(queue_);
        queued_bytes_ = 0;
      }
      run_batch(batch);
    }
  }

  void run_batch(std::deque<std::unique_ptr<Operation>>& batch) {
    SqliteConnection& connection = writer_->connection();
    auto& logs = writer_->logs();
    bool writes = false;
    for (const auto& op : batch) writes = writes || op->writes;

    std::vector<std::unique_ptr<Operation>> done;
    done.reserve(batch.size());
    // Log states as they were before this batch, to restore on a failed commit.
    std::unordered_map<std::string, std::optional<LogState>> before_batch;
    auto remember = [&logs](std::unordered_map<std::string, std::optional<LogState>>& into,
                            const std::string& name) {
      if (into.contains(name)) return;
      auto found = logs.find(name);
      into.emplace(name,
                   found == logs.end() ? std::nullopt : std::optional<LogState>(found->second));
    };
    auto restore = [&logs](const std::unordered_map<std::string, std::optional<LogState>>& from) {
      for (const auto& [name, state] : from) {
        if (state) {
          logs[name] = *state;
        } else {
          logs.erase(name);
        }
      }
    };

    if (writes) {
      if (Status st = connection.exec("BEGIN IMMEDIATE"); !st.ok()) {
        for (auto& op : batch) {
          op->fail(st.error());
          done.push_back(std::move(op));
        }
        post_completions({}, std::move(done));
        return;
      }
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& op = batch[i];
      if (writes && !connection.in_transaction()) {
        // SQLite rolled the whole transaction back on its own (it does so on a full
        // disk or an I/O error): nothing of this batch is stored, so every operation
        // fails, the ones that looked done included.
        const Error error = connection.error("the transaction was rolled back");
        restore(before_batch);
        for (std::size_t j = i; j < batch.size(); ++j) done.push_back(std::move(batch[j]));
        for (auto& failed : done) failed->fail(error);
        operations_.fetch_add(done.size(), std::memory_order_relaxed);
        post_completions({}, std::move(done));
        return;
      }
      if (!op->writes) {
        (void)op->execute(*writer_);
        done.push_back(std::move(op));
        continue;
      }
      std::unordered_map<std::string, std::optional<LogState>> before_op;
      if (!op->log.empty()) {
        remember(before_batch, op->log);
        remember(before_op, op->log);
      }
      if (Status st = connection.run("SAVEPOINT op"); !st.ok()) {
        op->fail(st.error());
        done.push_back(std::move(op));
        continue;
      }
      if (Status st = op->execute(*writer_); !st.ok()) {
        restore(before_op);
        if (connection.in_transaction()) {
          (void)connection.run("ROLLBACK TO op");
          (void)connection.run("RELEASE op");
        }
      } else {
        (void)connection.run("RELEASE op");
      }
      done.push_back(std::move(op));
    }
    if (writes) {
      Status committed;
      for (const auto& [name, state] : before_batch) {
        auto found = logs.find(name);
        const bool advanced = found != logs.end() &&
                              (!state || state->stats.high_water != found->second.stats.high_water);
        if (advanced && committed.ok()) committed = writer_->save_high_water(found->second);
      }
      if (committed.ok() && !connection.in_transaction()) {
        committed = connection.error("the transaction was rolled back");
      }
      if (committed.ok()) committed = connection.exec("COMMIT");
      if (!committed.ok()) {
        if (connection.in_transaction()) (void)connection.exec("ROLLBACK");
        restore(before_batch);
        for (auto& op : done) op->fail(committed.error());
        operations_.fetch_add(done.size(), std::memory_order_relaxed);
        post_completions({}, std::move(done));
        return;
      }
      transactions_.fetch_add(1, std::memory_order_relaxed);
    }
    StatsUpdate stats;
    for (const auto& [name, state] : before_batch) {
      (void)state;
      auto found = logs.find(name);
      stats.emplace_back(name, found == logs.end() ? LogStats{} : found->second.stats);
    }
    operations_.fetch_add(done.size(), std::memory_order_relaxed);
    post_completions(std::move(stats), std::move(done));
  }

  EventLoop& loop_;
  Options options_;
  std::filesystem::path path_;
  std::unique_ptr<Writer> writer_;
  std::shared_ptr<LoopSide> loop_side_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Operation>> queue_;
  std::size_t queued_bytes_ = 0;
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> operations_{0};
};

// ---- Public interface ----

namespace {

template <typename T>
std::unique_ptr<Operation> make_operation(std::string_view log, std::size_t payload_bytes,
                                          bool writes, typename BasicOperation<T>::Body body,
                                          std::function<void(Result<T>)> done) {
  auto op = std::make_unique<BasicOperation<T>>(std::move(body), std::move(done));
  op->log = std::string(log);
  op->payload_bytes = payload_bytes;
  op->writes = writes;
  return op;
}

}  // namespace

Result<std::unique_ptr<DurableStore>> DurableStore::open(EventLoop& loop, Options options) {
  if (options.directory.empty()) {
    return Error(ErrorCode::kStorageFailure, "the state directory is not set");
  }
  if (Status st = prepare_directory(options.directory); !st.ok()) return st.error();
  const auto path = options.directory / options.file_name;
  std::error_code ec;
  const auto type = std::filesystem::symlink_status(path, ec).type();
  if (type == std::filesystem::file_type::directory) {
    return storage_error(path, "is a directory, not a database file");
  }
  if (type != std::filesystem::file_type::not_found &&
      type != std::filesystem::file_type::regular && type != std::filesystem::file_type::symlink) {
    return storage_error(path, "is not a regular file");
  }
  if (type != std::filesystem::file_type::not_found && ::access(path.c_str(), R_OK | W_OK) != 0) {
    return storage_error(path, std::string("cannot open the database: ") + std::strerror(errno));
  }
  auto connection = SqliteConnection::open(path);
  if (!connection.ok()) return connection.error();
  if (Status st = prepare_schema(**connection); !st.ok()) return st.error();
  auto writer = std::make_unique<Writer>(std::move(connection).value());
  if (Status st = writer->load_logs(); !st.ok()) return st.error().wrap("loading the logs");
  auto impl = std::make_unique<Impl>(loop, std::move(options), std::move(writer));
  impl->start();
  return std::unique_ptr<DurableStore>(new DurableStore(std::move(impl)));
}

DurableStore::DurableStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DurableStore::~DurableStore() = default;

const std::filesystem::path& DurableStore::path() const {
  return impl_->path();
}

void DurableStore::append(std::string_view log, Bytes bytes, Done<std::uint64_t> done) {
  const std::size_t size = bytes.size();
  auto op = make_operation<std::uint64_t>(
      std::string(log), size, true,
      [name = std::string(log), bytes = std::move(bytes)](Writer& writer) -> Result<std::uint64_t> {
        auto state = writer.log_for_write(name);
        if (!state.ok()) return state.error();
        return writer.append(**state, bytes);
      },
      std::move(done));
  impl_->enqueue_sized(std::move(op), size, "record");
}

void DurableStore::append_batch(std::string_view log, std::vector<Bytes> records,
                                Done<std::uint64_t> done) {
  std::size_t total = 0;
  std::size_t largest = 0;
  for (const auto& record : records) {
    total += record.size();
    largest = std::max(largest, record.size());
  }
  const bool empty = records.empty();
  auto op = make_operation<std::uint64_t>(
      std::string(log), total, true,
      [name = std::string(log),
       records = std::move(records)](Writer& writer) -> Result<std::uint64_t> {
        auto state = writer.log_for_write(name);
        if (!state.ok()) return state.error();
        std::uint64_t first = 0;
        for (const auto& record : records) {
          auto seq = writer.append(**state, record);
          if (!seq.ok()) return seq.error();
          if (first == 0) first = *seq;
        }
        return first;
      },
      std::move(done));
  if (empty) {
    impl_->reject(std::move(op), Error(ErrorCode::kInvalidArgument, "append_batch of no records"));
    return;
  }
  impl_->enqueue_sized(std::move(op), largest, "record");
}

void DurableStore::append_within_budget(std::string_view log, Bytes bytes,
                                        std::uint64_t max_log_bytes,
                                        DroppedRecordMaker make_dropped,
                                        Done<BudgetedAppend> done) {
  const std::size_t size = bytes.size();
  auto op = make_operation<BudgetedAppend>(
      std::string(log), size, true,
      [name = std::string(log), bytes = std::move(bytes), max_log_bytes,
       make_dropped = std::move(make_dropped)](Writer& writer) -> Result<BudgetedAppend> {
        constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
        const std::uint64_t reserve =
            make_dropped ? make_dropped(DroppedRange{kMax, kMax, kMax, kMax}, kMax).bytes.size()
                         : 0;
        if (bytes.size() + reserve > max_log_bytes) {
          return Error(ErrorCode::kInvalidArgument,
                       "a record of " + std::to_string(bytes.size()) +
                           " bytes (and its drop marker) does not fit a budget of " +
                           std::to_string(max_log_bytes) + " bytes");
        }
        auto state = writer.log_for_write(name);
        if (!state.ok()) return state.error();
        LogState& log_state = **state;
        BudgetedAppend outcome;
        if (log_state.stats.bytes + bytes.size() > max_log_bytes) {
          auto dropped = writer.trim(log_state, max_log_bytes - bytes.size() - reserve);
          if (!dropped.ok()) return dropped.error();
          if (dropped->count > 0 && make_dropped) {
            DropMarker marker = make_dropped(*dropped, log_state.stats.high_water + 1);
            if (marker.bytes.size() > reserve) {
              return Error(ErrorCode::kInvalidArgument,
                           "the drop marker is longer than the one built for the largest range");
            }
            bool replaced = false;
            if (marker.replaces_seq != 0) {
              auto rewritten = writer.replace(log_state, marker.replaces_seq, marker.bytes);
              if (!rewritten.ok()) return rewritten.error();
              replaced = *rewritten;
              if (replaced) outcome.dropped_record_seq = marker.replaces_seq;
            }
            if (!replaced) {
              auto marker_seq = writer.append(log_state, marker.bytes);
              if (!marker_seq.ok()) return marker_seq.error();
              outcome.dropped_record_seq = *marker_seq;
            }
          }
          if (dropped->count > 0) outcome.dropped = *dropped;
        }
        auto seq = writer.append(log_state, bytes);
        if (!seq.ok()) return seq.error();
        outcome.seq = *seq;
        return outcome;
      },
      std::move(done));
  impl_->enqueue_sized(std::move(op), size, "record");
}

void DurableStore::read(std::string_view log, std::uint64_t after_seq, std::size_t max_records,
                        std::size_t max_bytes, Done<std::vector<LogRecord>> done) {
  impl_->enqueue(make_operation<std::vector<LogRecord>>(
      std::string(log), 0, false,
      [name = std::string(log), after_seq, max_records,
       max_bytes](Writer& writer) -> Result<std::vector<LogRecord>> {
        const LogState* state = writer.log_for_read(name);
        if (state == nullptr) return std::vector<LogRecord>();
        return writer.read(*state, after_seq, max_records, max_bytes);
      },
      std::move(done)));
}

void DurableStore::erase_through(std::string_view log, std::uint64_t seq, StatusDone done) {
  impl_->enqueue(make_operation<Unit>(
      std::string(log), 0, true,
      [name = std::string(log), seq](Writer& writer) -> Result<Unit> {
        auto found = writer.logs().find(name);
        if (found == writer.logs().end()) return Unit{};
        if (Status st = writer.erase_through(found->second, seq); !st.ok()) return st.error();
        return Unit{};
      },
      status_done(std::move(done))));
}

void DurableStore::trim_to_bytes(std::string_view log, std::uint64_t max_log_bytes,
                                 Done<DroppedRange> done) {
  impl_->enqueue(make_operation<DroppedRange>(
      std::string(log), 0, true,
      [name = std::string(log), max_log_bytes](Writer& writer) -> Result<DroppedRange> {
        auto found = writer.logs().find(name);
        if (found == writer.logs().end()) return DroppedRange{};
        return writer.trim(found->second, max_log_bytes);
      },
      std::move(done)));
}

LogStats DurableStore::stats(std::string_view log) const {
  return impl_->stats(log);
}

void DurableStore::put(std::string key, Bytes bytes, StatusDone done) {
  DocumentChange change;
  change.puts.push_back(Document{std::move(key), std::move(bytes)});
  commit(std::move(change), std::move(done));
}

void DurableStore::erase(std::string key, StatusDone done) {
  DocumentChange change;
  change.erases.push_back(std::move(key));
  commit(std::move(change), std::move(done));
}

void DurableStore::commit(DocumentChange change, StatusDone done) {
  std::size_t total = 0;
  std::size_t largest = 0;
  for (const auto& document : change.puts) {
    total += document.bytes.size() + document.key.size();
    largest = std::max(largest, document.bytes.size());
  }
  for (const auto& key : change.erases) total += key.size();
  auto op = make_operation<Unit>(
      std::string(), total, true,
      [change = std::move(change)](Writer& writer) -> Result<Unit> {
        for (const auto& document : change.puts) {
          if (Status st = writer.put(document.key, document.bytes); !st.ok()) return st.error();
        }
        for (const auto& key : change.erases) {
          if (Status st = writer.erase(key); !st.ok()) return st.error();
        }
        return Unit{};
      },
      status_done(std::move(done)));
  impl_->enqueue_sized(std::move(op), largest, "document");
}

void DurableStore::get(std::string key, Done<std::optional<Bytes>> done) {
  impl_->enqueue(make_operation<std::optional<Bytes>>(
      std::string(), 0, false, [key = std::move(key)](Writer& writer) { return writer.get(key); },
      std::move(done)));
}

void DurableStore::list(std::string prefix, Done<std::vector<Document>> done) {
  impl_->enqueue(make_operation<std::vector<Document>>(
      std::string(), 0, false,
      [prefix = std::move(prefix)](Writer& writer) { return writer.list(prefix); },
      std::move(done)));
}

DurableStore::Counters DurableStore::counters() const {
  return impl_->counters();
}

}  // namespace tether::daemon::store
