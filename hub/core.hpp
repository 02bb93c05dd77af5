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
#include <utility>

#include "hub/config.hpp"
#include "hub/devices/device_layer.hpp"
#include "hub/devices/local_devices.hpp"
#include "hub/loop_inbox.hpp"
#include "hub/operators/audit.hpp"
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
  // Every device as the services see it: the local links, or the inserted layer.
  DeviceSide& device_side() { return device_side_; }
  // Splices `layer` between the local links and the services (before any
  // connection; the layer outlives the core's use of it).
  void insert_device_layer(DeviceLayer& layer);
  OperatorSide& operators() { return operators_; }
  ServiceRegistry& services() { return registry_; }
  const ServiceContext& context() const { return context_; }
  // Work from other threads for the loop (the loop glue runs it).
  LoopInbox& inbox() { return inbox_; }
  // Where the services' and the operator side's audit events go (main: the
  // operator store; tests: a recorder). Until set, events are dropped.
  void set_audit_sink(AuditSink* sink) { audit_relay_.target = sink; }
  AuditTrail audit() { return AuditTrail{&audit_relay_}; }

 private:
  void device_online(const std::string& device_id) override;
  void device_offline(const std::string& device_id, const std::string& why) override;
  bool device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;

  // The services hold copies of the context, so the sink they see is this
  // forwarder, which main points at the store once it is open.
  struct AuditRelay final : AuditSink {
    AuditSink* target = nullptr;
    void record(AuditEvent event) override {
      if (target != nullptr) target->record(std::move(event));
    }
  };

  LoopInbox inbox_;
  AuditRelay audit_relay_;
  ServiceRegistry registry_;
  DeviceEventsRelay device_events_;
  LocalDevices devices_;
  DeviceSideRelay device_side_;
  OperatorSide operators_;
  ServiceContext context_;
};

}  // namespace tether::hub
