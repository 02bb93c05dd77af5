// The CommandStore on the hub's SQL store (hub/store/sql/database.hpp): with
// SQLite, STATE_DIR/commands.db (WAL, synchronous=FULL: an ack to the device
// promises the outcome is on disk), a file of its own so that command writes never
// queue behind the registry's or the monitoring records' writers; with PostgreSQL,
// the table commands.
//
// The loop thread reads through one connection; a writer thread owns another and
// commits everything queued since its last batch in one transaction, then runs the
// completions. Each device keeps at most `max_history` finished commands; older
// finished rows are deleted by the writer as new ones arrive (pending rows are
// never deleted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "hub/store/batch_writer.hpp"
#include "hub/store/command_store.hpp"
#include "hub/store/sql/database.hpp"

namespace tether::hub {

class SqlCommandStore final : public CommandStore {
 public:
  static constexpr std::size_t kDefaultMaxHistory = 1000;

  // Connects to `url` (SQLite: DIR/commands.db, creating DIR 0700 when missing)
  // and brings the schema up to date (migrations of the store "commands").
  static Result<std::unique_ptr<SqlCommandStore>> open(
      const sql::StoreUrl& url, std::size_t max_history = kDefaultMaxHistory);
  // The schema, version by version; version 1 is the commands.db of older hubs.
  static const std::vector<sql::Migration>& migrations();
  ~SqlCommandStore() override;
  SqlCommandStore(const SqlCommandStore&) = delete;
  SqlCommandStore& operator=(const SqlCommandStore&) = delete;

  void add(CommandRecord record, Committed done) override;
  void finish(const std::string& device, const std::string& id, CommandOutcome outcome,
              Committed done) override;
  Result<std::optional<CommandRecord>> get(const std::string& device,
                                           const std::string& id) override;
  Result<std::vector<CommandRecord>> history(const std::string& device, std::size_t limit) override;
  Result<std::vector<CommandRecord>> pending() override;
  Result<std::vector<CommandRecord>> pending_of(const std::string& device) override;
  Status flush() override;

 private:
  struct Add {
    CommandRecord record;
    Committed done;
  };
  struct Finish {
    std::string device;
    std::string id;
    CommandOutcome outcome;
    Committed done;
  };
  using Op = std::variant<Add, Finish>;

  SqlCommandStore(std::unique_ptr<sql::Connection> reader, std::unique_ptr<sql::Connection> writer,
                  std::size_t max_history);
  void enqueue(Op op);
  Status write_batch(std::deque<Op>& batch);
  Status write_op(const Op& op);

  std::unique_ptr<sql::Connection> reader_;  // the loop thread's
  std::unique_ptr<sql::Connection> writer_;  // the writer thread's
  std::size_t max_history_;
  BatchWriter<std::deque<Op>> batches_;  // last: its thread uses the members above
};

}  // namespace tether::hub
