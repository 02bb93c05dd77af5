// The command plugin's logic (wire.md 5.4), without D-Bus or the connection: which
// app holds which target, the requests waiting for an answer, and the results the
// backend has not acknowledged yet. The plugin (command_plugin.hpp) connects it to
// the link; CommandsService (commands_service.hpp) connects it to the apps on the bus.
//
// Exactly once, even across link drops and restarts:
// - Every request id is remembered in the durable store before the app sees the
//   request, as one document `command/id/<id>` (state pending). A kill -9 cannot
//   lose it: after the restart, a pending id ends as `timeout`.
// - A result is committed (the same document, now finished and holding the encoded
//   result: result and seen-id in one atomic commit) BEFORE it is sent, and it is
//   re-sent after every connect until the backend's `ack {id}`.
// - A request whose id is known is not delivered again: nothing while pending, the
//   stored result again once finished.
// - Acknowledged ids are kept (with their result) up to `remembered_ids`, oldest
//   forgotten first; unacknowledged results are never forgotten.
//
// Threading: the loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/loop/event_loop.hpp"
#include "daemon/store/durable_store.hpp"
#include "protocol/command.hpp"
#include "protocol/message.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::plugins::command {

struct BrokerOptions {
  // command.timeout: how long a request without `timeout_s` waits for its Reply.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  // command.max-pending: requests waiting per target; more are answered `busy`.
  std::size_t max_pending = 16;
  // Acknowledged ids remembered (wire.md: at least 1024).
  std::size_t remembered_ids = 1024;
  // Targets registered at once, over all apps; more are refused (Busy).
  std::size_t max_targets = 256;
  // Upper bound of a request's own timeout_s (a peer must not park a request forever).
  std::chrono::seconds max_timeout{std::chrono::hours(24)};
  // Inbound requests held while the stored state loads at start.
  std::size_t max_queued_at_start = 256;
};

// What the broker needs from the apps' side (the D-Bus service, or a fake).
class AppChannel {
 public:
  virtual ~AppChannel() = default;
  // Hands request `id` to `holder` (the Request signal, unicast). An error ends the
  // request as `error`.
  virtual Status deliver(const std::string& holder, const std::string& id,
                         const std::string& target, const std::string& action,
                         const protocol::Map& args) = 0;
  // Tells `holder` that request `id`, which it received, ended without its Reply
  // (`timeout`, or the daemon stopping), so it can stop working on it.
  virtual void ended(const std::string& holder, const std::string& id,
                     const std::string& status) = 0;
  // The list of targets changed (for the Targets property's PropertiesChanged).
  virtual void targets_changed() = 0;
};

class CommandBroker {
 public:
  // Sends one message to the backend; fails when the link is down.
  using SendFn = std::function<Status(const protocol::ProtoMsg&)>;
  // Called with the outcome of a call that waits for durability (Reply).
  using Done = std::function<void(Status)>;

  // Starts loading the stored ids at once (asynchronously); requests that arrive
  // before that finishes wait for it.
  CommandBroker(daemon::EventLoop& loop, daemon::store::DurableStore& store, BrokerOptions options,
                SendFn send);
  ~CommandBroker();
  CommandBroker(const CommandBroker&) = delete;
  CommandBroker& operator=(const CommandBroker&) = delete;

  // Set once, before the loop runs (the D-Bus service is built after the broker).
  void set_app_channel(AppChannel* apps) { apps_ = apps; }

  // ---- The backend's side ----
  Status on_message(const protocol::ProtoMsg& msg);
  // Sends `targets`, then every unacknowledged result.
  void on_connected();
  void on_disconnected();
  // Ends every pending request as `timeout` (committed before the store closes).
  void on_shutdown();

  // ---- The apps' side ----
  // kInvalidArgument for an empty or oversize name, kBusy when another holder has
  // it or there are max_targets already. Registering a target twice is fine.
  Status register_target(const std::string& holder, const std::string& target);
  // kNotFound when `holder` does not hold `target`. Its pending requests end
  // as `no-target`.
  Status unregister_target(const std::string& holder, const std::string& target);
  // `holder` left the bus: it loses its targets, its pending requests end `no-target`.
  void holder_left(const std::string& holder);
  // The answer of the holder to request `id`. kNotFound for an unknown, finished or
  // someone else's id (checked at once, before `done`); otherwise `done` runs once
  // the result is stored durably.
  Status reply(const std::string& holder, const std::string& id, bool ok, protocol::Map ret,
               std::string err, const Done& done);

  std::vector<std::string> targets() const;
  // For tests and diagnostics.
  std::size_t pending_count() const;
  std::size_t remembered_count() const { return entries_.size(); }
  bool loaded() const { return loaded_; }

 private:
  enum class State { kPending, kStoring, kFinished };
  struct Entry {
    std::string id;
    std::uint64_t order = 0;
    State state = State::kPending;
    bool acked = false;
    std::string target;
    std::string holder;  // empty until delivered (or when it never will be)
    bool delivered = false;
    protocol::Bytes result;  // the encoded `result` body once finished
    std::unique_ptr<daemon::Timer> timer;
  };

  void load();
  void handle_request(const protocol::ProtoMsg& msg);
  void handle_ack(const protocol::ProtoMsg& msg);
  // Ends `entry` with `status` (and ret/err): commits, then sends. `done` runs after
  // the commit (with its outcome).
  void finish(Entry& entry, const char* status, std::optional<protocol::Map> ret,
              std::optional<std::string> err, const Done& done = {});
  // Answers a request that cannot be remembered (an invalid body without an id).
  void send_unremembered(const std::string& id, const char* status, std::string err);
  // Acknowledged results are sent only to answer a repeated request.
  void send_result(const Entry& entry, bool even_if_acked = false);
  void send_targets();
  void forget_old_ids();
  std::size_t pending_for(const std::string& target) const;
  Entry& add_entry(const std::string& id);
  static std::string key_of(const std::string& id);
  protocol::Bytes document_of(const Entry& entry) const;

  daemon::EventLoop& loop_;
  daemon::store::DurableStore& store_;
  BrokerOptions options_;
  SendFn send_;
  AppChannel* apps_ = nullptr;
  bool connected_ = false;
  bool loaded_ = false;
  bool stopping_ = false;
  std::vector<protocol::ProtoMsg> queued_at_start_;
  std::uint64_t next_order_ = 1;
  std::unordered_map<std::string, Entry> entries_;
  std::map<std::uint64_t, std::string> by_order_;  // every entry, oldest first
  std::map<std::string, std::string> holders_;     // target -> holder
  // Guards callbacks from the store against a destroyed broker.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tether::plugins::command
