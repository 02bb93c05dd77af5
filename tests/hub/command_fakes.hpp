// A command store for the hub's unit tests whose commits happen only when the test
// says so: writes are held with their completions until commit() (or fail()), so a
// test can see that nothing is acknowledged before its commit. Reads see committed
// rows only, as the SQLite store's do.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hub/store/command_store.hpp"

namespace tether::hub::testing {

class HeldCommandStore : public CommandStore {
 public:
  void add(CommandRecord record, Committed done) override {
    held.push_back({Write{std::move(record)}, std::move(done)});
  }
  void finish(const std::string& device, const std::string& id, CommandOutcome outcome,
              Committed done) override {
    held.push_back({Write{Finish{device, id, std::move(outcome)}}, std::move(done)});
  }
  // Applies every held write, then runs their completions. Returns how many.
  std::size_t commit() {
    auto batch = std::exchange(held, {});
    for (auto& h : batch) {
      if (auto* r = std::get_if<CommandRecord>(&h.write)) {
        const auto key = std::make_pair(r->device, r->id);
        if (rows.count(key) == 0) {
          rows.emplace(key, *r);
          order.push_back(key);
        }
      } else {
        auto& f = std::get<Finish>(h.write);
        auto it = rows.find({f.device, f.id});
        if (it != rows.end() && it->second.outcome.status == kCommandPending) {
          it->second.outcome = f.outcome;
          ++finishes;
        }
      }
    }
    for (auto& h : batch) h.done(Status::Ok());
    return batch.size();
  }
  void fail() {
    auto batch = std::exchange(held, {});
    for (auto& h : batch) h.done(Error(ErrorCode::kStorageFailure, "disk on fire"));
  }

  Result<std::optional<CommandRecord>> get(const std::string& device,
                                           const std::string& id) override {
    auto it = rows.find({device, id});
    if (it == rows.end()) return std::optional<CommandRecord>();
    return std::optional<CommandRecord>(it->second);
  }
  Result<std::vector<CommandRecord>> history(const std::string& device,
                                             std::size_t limit) override {
    std::vector<CommandRecord> out;
    for (auto it = order.rbegin(); it != order.rend() && out.size() < limit; ++it) {
      if (it->first == device) out.push_back(rows.at(*it));
    }
    return out;
  }
  Result<std::vector<CommandRecord>> pending() override {
    std::vector<CommandRecord> out;
    for (const auto& key : order) {
      if (rows.at(key).outcome.status == kCommandPending) out.push_back(rows.at(key));
    }
    return out;
  }
  Status flush() override { return Status::Ok(); }

  struct Finish {
    std::string device;
    std::string id;
    CommandOutcome outcome;
  };
  using Write = std::variant<CommandRecord, Finish>;
  struct Held {
    Write write;
    Committed done;
  };
  std::vector<Held> held;
  std::map<std::pair<std::string, std::string>, CommandRecord> rows;
  std::vector<std::pair<std::string, std::string>> order;
  int finishes = 0;  // outcomes recorded
};

}  // namespace tether::hub::testing
