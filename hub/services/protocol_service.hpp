// A protocol service: everything the hub does for one protocol (or a family that
// shares sessions), registered by proto number in the ServiceRegistry. A service
// keeps its own state and reaches the rest of the hub only through ServiceContext:
//
// - to a device: context.devices.send(device_id, msg, urgent)  (wherever its link is)
// - to an operator: context.operators.send / send_error / to_owner
// - operator -> device with the operator's name stamped: context.operators.to_device
// - session ids: context.operators.claim / owns / forget (the operator side owns them)
// - persistence: context.store (writes are queued and batched off the loop)
// - the JSON API: api() returns the service's routes, if it has any
// - the audit trail: context.audit.record({user, action, device, outcome, detail})
//   for every action on a device (hub/operators/audit.hpp)
//
// All calls happen on the loop thread. See docs/hub.md, "Adding a protocol service".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "hub/config.hpp"
#include "hub/http_types.hpp"
#include "hub/operators/audit.hpp"
#include "hub/operators/caller.hpp"
#include "protocol/message.hpp"

namespace tether::hub {

class CommandStore;
class DeviceSide;
class ConfigStore;
class LoopInbox;
class MonitoringStore;
class OperatorSide;
class Store;

// Identifies one operator WebSocket.
using OperatorId = std::uint64_t;

// What every service may use. The references outlive every service.
struct ServiceContext {
  DeviceSide& devices;
  OperatorSide& operators;
  Store& store;
  const Limits& limits;
  const Logger& log;
  // Monitoring records, status history, presence (monitoring_store.hpp).
  MonitoringStore& monitoring;
  // Completions from the stores' writer threads come back to the loop through this.
  LoopInbox& inbox;
  // Pushed config versions and what devices report (config_store.hpp).
  ConfigStore& config;
  // Commands sent to devices and their outcomes (command_store.hpp).
  CommandStore& commands;
  // Who did what to which device (hub/operators/audit.hpp). Default: dropped.
  AuditTrail audit{};
};

// JSON routes a service adds to the API (hub/http_api.hpp). The API asks each
// service's handler in registration order, after its own routes; the first
// answer wins. `caller` is the logged-in operator and their role: a route checks
// caller.may(Role::k...) before acting and answers forbidden(role) otherwise.
class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  // nullopt: not one of this handler's routes.
  virtual std::optional<HttpResponse> handle(const HttpRequest& request, const Caller& caller) = 0;
};

class ProtocolService {
 public:
  virtual ~ProtocolService() = default;

  // A message from a device with one of this service's proto numbers.
  virtual void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) = 0;

  // A message from an operator attached to a device. false: this protocol is not
  // for operators to send (they get a control error).
  virtual bool on_operator_message(OperatorId /*op*/, protocol::ProtoMsg& /*msg*/) { return false; }

  // The device got its lease (a new link).
  virtual void on_device_online(const std::string& /*device_id*/) {}

  // The device lost its lease: drop per-device state.
  virtual void on_device_offline(const std::string& /*device_id*/) {}

  // A session this service claimed ended because its operator went away: tell the
  // device (with `user` as the operator's name).
  virtual void on_session_abandoned(const std::string& /*device_id*/, const std::string& /*user*/,
                                    const std::string& /*sid*/) {}

  // A session this service claimed ended because the device went away: tell the
  // operator `op` (it is closed right after).
  virtual void on_session_lost(OperatorId /*op*/, const std::string& /*sid*/,
                               const std::string& /*why*/) {}

  // Once a second, from the loop (the hub's keepalive sweep): work a service put
  // off, such as acks held back to fold several into one.
  virtual void on_tick() {}

  // The service's JSON routes, if any.
  virtual ApiHandler* api() { return nullptr; }
};

}  // namespace tether::hub
