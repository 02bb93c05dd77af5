#include "hub/core.hpp"

#include "hub/services/registrations.hpp"

namespace tether::hub {

HubCore::HubCore(Store& store, MonitoringStore& monitoring, ConfigStore& config,
                 CommandStore& commands, const Limits& limits, const Logger& log)
    : device_events_(static_cast<DeviceEvents&>(*this)),
      devices_(device_events_, store, limits, log),
      device_side_(devices_),
      operators_(device_side_, registry_, limits, log),
      context_{device_side_, operators_, store,  limits,   log,
               monitoring,   inbox_,     config, commands, AuditTrail{&audit_relay_}} {
  operators_.set_audit(AuditTrail{&audit_relay_});
}

void HubCore::insert_device_layer(DeviceLayer& layer) {
  layer.bind(devices_, *this, operators_);
  device_events_.point_at(layer);
  device_side_.point_at(layer);
}

Result<std::unique_ptr<HubCore>> HubCore::create(Store& store, MonitoringStore& monitoring,
                                                 ConfigStore& config, CommandStore& commands,
                                                 const Limits& limits, const Logger& log) {
  auto core = std::make_unique<HubCore>(store, monitoring, config, commands, limits, log);
  if (auto s = register_services(core->registry_, core->context_); !s.ok()) return s.error();
  return core;
}

void HubCore::device_online(const std::string& device_id) {
  registry_.device_online(device_id);
}

void HubCore::device_offline(const std::string& device_id, const std::string& why) {
  // Operators first (their sessions end through the services that own them),
  // then the services drop what they kept about the device.
  operators_.device_gone(device_id, why);
  registry_.device_offline(device_id);
}

bool HubCore::device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  return registry_.device_message(device_id, msg);
}

}  // namespace tether::hub
