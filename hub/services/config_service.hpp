// Config (proto 0x0011, wire.md 5.2): operators push a configuration document to a
// device through the JSON API; the hub keeps, per device, every pushed version
// (document, who pushed it and when, how the device answered) and what the device
// last reported, in the ConfigStore (config.db).
//
// - A push becomes the next version: one above both the newest pushed version and
//   the version the device last reported, so versions only grow and the device
//   never ignores a push as old. Each version holds the whole document; a merge
//   push is resolved on the hub, and the device always gets `set` with
//   replace:true and the whole document, so it ends up holding exactly what the
//   hub shows whatever versions it missed.
// - A version is sent only after the store has committed it, and then on every
//   connect while it is pending (the device may have missed it or its answer),
//   until the device answers for that version: `applied` (applied) or `error`
//   (error, with the device's reason). An answer for another version changes
//   nothing but what the hub knows the device holds.
// - The device's `current` (after every connect) is recorded. When it shows the
//   pending version, the version is applied (the answer was lost with the link);
//   when it shows a newer version than the hub's (a reset hub, another backend),
//   the pending push is an error: the device would ignore it. Push again.
//
// Operators may not send config messages on their WebSocket (versions would no
// longer be the hub's); they use the API:
//
//   GET  /api/devices/{id}/config           viewer: document, version, state, reason,
//                                           who pushed it, what the device reported
//   POST /api/devices/{id}/config           operator: {"values": {...},
//                                           "replace": bool?, "expect_version": uint?}
//   GET  /api/devices/{id}/config/history   viewer: pushed versions, newest first (?limit=N)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "hub/services/config_json.hpp"
#include "hub/services/protocol_service.hpp"
#include "hub/store/config_store.hpp"

namespace tether::hub {

class ConfigService final : public ProtocolService, public ApiHandler {
 public:
  // Largest history answer; the store keeps ConfigStore::kMaxHistory versions.
  static constexpr std::size_t kMaxHistoryAnswer = ConfigStore::kMaxHistory;
  // A device's error reason and reported values beyond these are not kept whole.
  static constexpr std::size_t kMaxReason = 1024;
  static constexpr std::size_t kMaxReportedJson = std::size_t{1} << 20U;

  explicit ConfigService(ServiceContext context);
  ~ConfigService() override;
  ConfigService(const ConfigService&) = delete;
  ConfigService& operator=(const ConfigService&) = delete;

  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;
  void on_device_online(const std::string& device_id) override;
  void on_device_offline(const std::string& device_id) override;
  ApiHandler* api() override { return this; }

  std::optional<HttpResponse> handle(const HttpRequest& request, const Caller& caller) override;

 private:
  HttpResponse get_config(const std::string& device);
  HttpResponse push(const HttpRequest& request, const std::string& device, const Caller& caller);
  HttpResponse history(const HttpRequest& request, const std::string& device);

  // Sends the newest version to the device when it is pending, committed and not
  // yet sent on this link.
  void deliver(const std::string& device_id);
  void committed(const std::string& device_id, std::uint64_t version, const Status& status);
  void answered(const std::string& device_id, std::uint64_t version,
                const std::optional<std::string>& error);
  void reported(const std::string& device_id, const protocol::ProtoMsg& msg);
  // Updates the state of the pending `latest` and stores it.
  void settle(const std::string& device_id, ConfigVersion latest, ConfigState state,
              const std::string& reason);
  void ask_current(const std::string& device_id);
  void refuse(const std::string& device_id, const protocol::ProtoMsg& msg, const Error& error);

  ServiceContext context_;
  config_json::Limits limits_;
  // The version sent on each device's current link.
  std::map<std::string, std::uint64_t, std::less<>> sent_on_link_;
  // Versions handed to the store and not yet committed: not sent until they are.
  std::set<std::pair<std::string, std::uint64_t>> uncommitted_;
  // Completions posted to the loop hold this; they do nothing once it is gone.
  std::shared_ptr<ConfigService*> self_;
};

}  // namespace tether::hub
