#include "plugins/config/config_bus.hpp"

#include "dbus/variant_msgpack.hpp"

namespace tether::plugins::config {

using daemon::dbus::BusService;

Result<std::unique_ptr<ConfigBus>> ConfigBus::create(BusService& bus,
                                                     const ConfigDocument& document) {
  try {
    return std::make_unique<ConfigBus>(bus, document);
  } catch (const sdbus::Error& e) {
    return Error(ErrorCode::kInternal, std::string("registering ") + INTERFACE_NAME + " on " +
                                           BusService::kObjectPath + ": " + e.getMessage());
  }
}

ConfigBus::ConfigBus(BusService& bus, const ConfigDocument& document)
    : AdaptorInterfaces(bus.connection(), BusService::kObjectPath), bus_(bus), document_(document) {
  registerAdaptor();
}

ConfigBus::~ConfigBus() {
  unregisterAdaptor();
}

Status ConfigBus::announce(const ConfigChange& change, bool version_moved) {
  return bus_.send([&] {
    emitChanged(change.next.version, tether::dbus::map_to_variants(change.changed), change.removed);
    if (version_moved) getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"Version"});
  });
}

sdbus::Variant ConfigBus::Get(const std::string& key) {
  const protocol::Value* value = protocol::find(document_.values, key);
  if (value == nullptr)
    throw BusService::to_dbus_error(Error(ErrorCode::kNotFound, "no config key '" + key + "'"));
  return tether::dbus::value_to_variant(*value);
}

std::map<std::string, sdbus::Variant> ConfigBus::GetAll() {
  return tether::dbus::map_to_variants(document_.values);
}

std::uint64_t ConfigBus::Version() {
  return document_.version;
}

}  // namespace tether::plugins::config
