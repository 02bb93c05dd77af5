// io.tether.Gateway1 (spec/dbus.md): the daemon's own state on the bus. State
// emits PropertiesChanged when it changes; the other properties are read when
// asked; Reconnect drops the link and dials again now.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/dbus/bus_service.hpp"
#include "dbus/generated/gateway1_adaptor.h"

namespace tether::daemon::dbus {

class GatewayService final : public sdbus::AdaptorInterfaces<io::tether::Gateway1_adaptor> {
 public:
  // What the service reads from the rest of the daemon; main fills it in.
  struct Sources {
    std::string device_id;
    std::string version;
    std::function<std::string()> server_url;
    // Monitoring records stored and not yet acknowledged; 0 until monitoring exists.
    std::function<std::uint64_t()> pending_records;
    std::function<void()> reconnect;
  };

  // Registers the interface on BusService::kObjectPath (no bus traffic). Fails
  // when the object already has the interface.
  static Result<std::unique_ptr<GatewayService>> create(BusService& bus, Sources sources);
  // As create(), but throws sdbus::Error (for tests that build it directly).
  GatewayService(BusService& bus, Sources sources);
  ~GatewayService();
  GatewayService(const GatewayService&) = delete;
  GatewayService& operator=(const GatewayService&) = delete;

  // "offline", "connecting" or "online"; emits PropertiesChanged when it differs.
  void set_state(const std::string& state);

 private:
  void Reconnect() override;
  std::string State() override;
  std::string DeviceId() override;
  std::string ServerUrl() override;
  std::string Version() override;
  std::uint64_t PendingRecords() override;

  BusService& bus_;
  Sources sources_;
  std::string state_ = "offline";
};

}  // namespace tether::daemon::dbus
