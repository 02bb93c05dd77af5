// Commands (proto 0x0013, wire.md 5.4): the hub asks an app on a device to act and
// keeps the one outcome of every request.
//
// - A request gets a hub-made id (128 random bits, hex) and is stored `pending` in
//   the CommandStore (who sent it, when, target, action, args) before it goes to the
//   device: a request the hub could forget never reaches a device.
// - A `result` finishes the request's row; the device gets `ack {id}` only from the
//   completion of that commit. A result for an id already finished is acked again
//   and not recorded twice; a duplicate that arrives while the first one's commit is
//   in flight is covered by that commit's ack. A result for an id the hub never made
//   (a wiped state dir) is stored as it is, with no request, and acked, so the
//   device can forget it and the outcome stays visible.
// - When a device connects, every request of it still pending is sent again. This
//   is at most once because the device deduplicates ids (wire.md 5.4: it remembers
//   at least the last 1024; an id it has seen is not delivered again, its stored
//   result is sent again instead, or nothing while it is still pending), and the
//   hub's ids are unique. A request whose first send was lost with the link may thus
//   run when the device comes back, not when it was sent.
// - Several instances (one store, a bus): a request made on one instance goes over
//   the bus to the instance holding the device's link, and its result is finished
//   there from the shared store row. The store row is the one truth: an instance
//   drops a request it tracks as soon as a read shows the row finished elsewhere
//   (GET of it or of the history, the limit check, the device connecting), and the
//   instance a device connects to sends it every pending row of it, whichever
//   instance made them (a dead one included).
// - `targets` lists are kept in memory per device (the device sends them after
//   every connect), with whether the device is online.
//
// The JSON API (docs/hub.md, "Commands"): POST needs the operator role, GETs the
// viewer role. A request for an offline device is refused with 409 and not stored:
// a command is meant for now, and nothing is queued to run at an unknown later time.
// Operators' WebSockets may not send this protocol (the JSON API is the way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/services/protocol_service.hpp"
#include "hub/store/command_store.hpp"

namespace tether::hub {

class CommandService final : public ProtocolService, public ApiHandler {
 public:
  // Requests of one device waiting for their result; more are refused with 429.
  static constexpr std::size_t kMaxPendingPerDevice = 64;
  // Targets kept per device (a longer list is cut), and their length (longer: dropped).
  static constexpr std::size_t kMaxTargets = 256;
  static constexpr std::size_t kMaxTargetBytes = 256;
  // The args of one request, msgpack-encoded, and their nesting depth.
  static constexpr std::size_t kMaxArgsBytes = 8192;
  static constexpr std::size_t kMaxArgsDepth = 16;
  // timeout_s a request may ask for.
  static constexpr std::uint64_t kMaxTimeoutS = 86400;
  // What is kept of a result: `ret` as JSON (larger: not kept, err says so), `err`.
  static constexpr std::size_t kMaxRetJson = 65536;
  static constexpr std::size_t kMaxErrBytes = 4096;
  // Rows one history answer may carry.
  static constexpr std::size_t kMaxHistory = 200;
  // Requests that failed to be stored, remembered for GET (never sent).
  static constexpr std::size_t kMaxFailed = 64;

  // Reads the store's pending requests (they are sent again when their device
  // connects).
  explicit CommandService(ServiceContext context);
  ~CommandService() override;
  CommandService(const CommandService&) = delete;
  CommandService& operator=(const CommandService&) = delete;

  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;
  void on_device_online(const std::string& device_id) override;
  void on_device_offline(const std::string& device_id) override;
  ApiHandler* api() override { return this; }

  std::optional<HttpResponse> handle(const HttpRequest& request, const Caller& caller) override;

  // Requests of `device_id` waiting for their result (tests, the API).
  std::size_t pending(const std::string& device_id) const;

 private:
  // A request whose outcome is not committed yet.
  struct Tracked {
    CommandRecord record;
    bool stored = false;      // its pending row is committed (it may be sent)
    bool finishing = false;   // its outcome arrived; that commit is in flight
    std::uint64_t order = 0;  // requests go (again) to a device in the order they were made
  };
  struct DeviceTargets {
    std::vector<std::string> targets;
    std::int64_t at_ms = 0;  // when the device sent the list
    bool online = false;
  };

  void on_result(const std::string& device_id, const protocol::ProtoMsg& msg);
  // Makes what is tracked for `device_id` match the store's pending rows: requests
  // finished elsewhere are dropped, pending rows made elsewhere are tracked. False
  // when the store could not be read (nothing changed).
  bool reconcile(const std::string& device_id);
  // Drops a tracked request whose committed row `stored` is finished.
  void forget_if_finished(const CommandRecord& stored);
  void forget(std::map<std::string, Tracked, std::less<>>::iterator it);
  void on_targets(const std::string& device_id, const protocol::ProtoMsg& msg);
  void keep_orphan(const std::string& device_id, const std::string& id, CommandOutcome outcome);
  void added(const std::string& id, const Status& status);
  void finished(const std::string& device_id, const std::string& id, const Status& status);
  void send_request(const Tracked& tracked);
  void send_ack(const std::string& device_id, const std::string& id);
  void refuse(const std::string& device_id, const protocol::ProtoMsg& msg, const Error& error);
  // Runs `then(status)` on the loop thread once a store write committed.
  CommandStore::Committed on_loop(std::function<void(CommandService&, const Status&)> then);

  HttpResponse post_command(const HttpRequest& request, const Caller& caller,
                            const std::string& device);
  HttpResponse get_command(const std::string& device, const std::string& id);
  HttpResponse get_history(const HttpRequest& request, const std::string& device);
  HttpResponse get_targets(const std::string& device);

  ServiceContext context_;
  // By id; every device's.
  std::map<std::string, Tracked, std::less<>> tracked_;
  std::map<std::string, std::size_t, std::less<>> pending_per_device_;
  std::map<std::string, DeviceTargets, std::less<>> targets_;
  std::deque<CommandRecord> failed_;
  std::uint64_t next_order_ = 0;
  // Completions posted to the loop hold this; they do nothing once it is gone.
  std::shared_ptr<CommandService*> self_;
};

}  // namespace tether::hub
