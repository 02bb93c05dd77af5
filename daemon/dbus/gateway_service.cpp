#include "daemon/dbus/gateway_service.hpp"

namespace tether::daemon::dbus {

Result<std::unique_ptr<GatewayService>> GatewayService::create(BusService& bus, Sources sources) {
  try {
    return std::make_unique<GatewayService>(bus, std::move(sources));
  } catch (const sdbus::Error& e) {
    return Error(ErrorCode::kInternal, std::string("registering ") + INTERFACE_NAME + " on " +
                                           BusService::kObjectPath + ": " + e.getMessage());
  }
}

GatewayService::GatewayService(BusService& bus, Sources sources)
    : AdaptorInterfaces(bus.connection(), BusService::kObjectPath),
      bus_(bus),
      sources_(std::move(sources)) {
  registerAdaptor();
}

GatewayService::~GatewayService() {
  unregisterAdaptor();
}

void GatewayService::set_state(const std::string& state) {
  if (state == state_) return;
  state_ = state;
  // A failure here means the bus connection is gone, which BusService reports.
  (void)bus_.send([this] { getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"State"}); });
}

void GatewayService::Reconnect() {
  if (sources_.reconnect) sources_.reconnect();
}

std::string GatewayService::State() {
  return state_;
}

std::string GatewayService::DeviceId() {
  return sources_.device_id;
}

std::string GatewayService::ServerUrl() {
  return sources_.server_url ? sources_.server_url() : std::string();
}

std::string GatewayService::Version() {
  return sources_.version;
}

std::uint64_t GatewayService::PendingRecords() {
  return sources_.pending_records ? sources_.pending_records() : 0;
}

}  // namespace tether::daemon::dbus
