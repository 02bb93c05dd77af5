// What the hub keeps of the commands it sends to devices (wire.md 5.4): one row per
// request id, written as `pending` before the request goes to the device, and
// finished once with the device's `result`. The command service acknowledges a
// result to the device only after the commit that finished its row, so an outcome
// the device has forgotten is always one the hub has stored.
//
// Writes are queued and committed in batches off the loop thread; each write's
// completion runs on the writer thread after its batch committed (or failed).
// Reads are synchronous and see committed rows only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::hub {

// The hub's word for a request without its outcome yet; the other statuses are
// wire.md's (ok, error, no-target, timeout, busy, invalid).
inline constexpr char kCommandPending[] = "pending";

// The outcome of a request, as the device reported it.
struct CommandOutcome {
  std::string status;
  std::optional<std::string> ret_json;  // the `ret` map as JSON
  std::optional<std::string> err;
  std::int64_t device_ts = 0;    // the result's ts (device clock, ms)
  std::int64_t finished_ms = 0;  // when the hub received it
};

struct CommandRecord {
  std::string id;  // made by the hub, unique
  std::string device;
  std::string target;
  std::string action;
  std::string args_json = "{}";
  std::optional<std::uint64_t> timeout_s;
  // The request body as sent (msgpack), so that it can be sent again unchanged.
  protocol::Bytes request;
  std::string user;  // the operator who sent it
  std::int64_t created_ms = 0;
  // kCommandPending until the result's row is committed.
  CommandOutcome outcome{kCommandPending, std::nullopt, std::nullopt, 0, 0};
};

class CommandStore {
 public:
  // Runs on the writer thread once the write's batch is committed (or failed).
  using Committed = std::function<void(const Status&)>;

  virtual ~CommandStore() = default;

  // --- queued writes ---
  // Stores a new row. A row with the same (device, id) already stored is left as it
  // is (the completion still reports success).
  virtual void add(CommandRecord record, Committed done) = 0;
  // Records the outcome of a pending row; a row that is already finished keeps its
  // first outcome (a result is never recorded twice).
  virtual void finish(const std::string& device, const std::string& id, CommandOutcome outcome,
                      Committed done) = 0;

  // --- reads (committed rows) ---
  virtual Result<std::optional<CommandRecord>> get(const std::string& device,
                                                   const std::string& id) = 0;
  // The device's commands, newest first.
  virtual Result<std::vector<CommandRecord>> history(const std::string& device,
                                                     std::size_t limit) = 0;
  // Every pending row of every device, oldest first (read once at start).
  virtual Result<std::vector<CommandRecord>> pending() = 0;
  // The pending rows of one device, oldest first (several hub instances: rows other
  // instances wrote). By default pending() filtered; stores override it.
  virtual Result<std::vector<CommandRecord>> pending_of(const std::string& device) {
    auto all = pending();
    if (!all.ok()) return all.error();
    std::vector<CommandRecord> out;
    for (CommandRecord& r : *all) {
      if (r.device == device) out.push_back(std::move(r));
    }
    return out;
  }

  // Waits for every queued write; returns the first failure since the last flush.
  virtual Status flush() = 0;
};

}  // namespace tether::hub
