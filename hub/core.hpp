// The hub without its sockets: the device side, the operator side and the
// protocol services between them, wired together. The lws glue (server/) feeds it
// connections and messages; tests drive it with fake links.
//
//   device links ──> LocalDevices ──(DeviceEvents)──> ServiceRegistry ──> services
//                        ^  DeviceSide::send                 │
//                        └───────────────────────────────────┤
//   operator sockets ──> OperatorSide ──(OperatorMessages)───┘
#pragma once

#include <memory>

#include "hub/config.hpp"
#include "hub/devices/local_devices.hpp"
#include "hub/loop_inbox.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/protocol_service.hpp"
#include "hub/services/service_registry.hpp"
#include "hub/store/command_store.hpp"
#include "hub/store/config_store.hpp"
#include "hub/store/monitoring_store.hpp"
#include "hub/store/store.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

class HubCore final : private DeviceEvents {
 public:
  // With the built-in services registered (services/registrations.cpp).
  static Result<std::unique_ptr<HubCore>> create(Store& store, MonitoringStore& monitoring,
                                                 ConfigStore& config, CommandStore& commands,
                                                 const Limits& limits, const Logger& log);
  // Without any service: tests register their own.
  HubCore(Store& store, MonitoringStore& monitoring, ConfigStore& config, CommandStore& commands,
          const Limits& limits, const Logger& log);
  HubCore(const HubCore&) = delete;
  HubCore& operator=(const HubCore&) = delete;

  LocalDevices& devices() { return devices_; }
  OperatorSide& operators() { return operators_; }
  ServiceRegistry& services() { return registry_; }
  const ServiceContext& context() const { return context_; }
  // Work from other threads for the loop (the loop glue runs it).
  LoopInbox& inbox() { return inbox_; }

 private:
  void device_online(const std::string& device_id) override;
  void device_offline(const std::string& device_id, const std::string& why) override;
  bool device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;

  LoopInbox inbox_;
  ServiceRegistry registry_;
  LocalDevices devices_;
  OperatorSide operators_;
  ServiceContext context_;
};

}  // namespace tether::hub
