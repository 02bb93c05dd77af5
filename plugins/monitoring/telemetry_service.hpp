// io.tether.Telemetry1 (spec/dbus.md) on the daemon's one object: each method maps
// its variants to msgpack (dbus/variant_msgpack.hpp) and hands the record to the plugin,
// and replies with the seq once the record is committed, or with the error
// (io.tether.Error.InvalidArgument, Busy, StorageFailure) and its sentence.
#pragma once

#include <map>
#include <string>

#include "daemon/dbus/bus_service.hpp"
#include "dbus/generated/telemetry1_adaptor.h"

namespace tether::plugins::monitoring {

class MonitoringPlugin;

class TelemetryService final : public sdbus::AdaptorInterfaces<io::tether::Telemetry1_adaptor> {
 public:
  // Throws sdbus::Error when the interface cannot be registered.
  TelemetryService(daemon::dbus::BusService& bus, MonitoringPlugin& plugin);
  ~TelemetryService();
  TelemetryService(const TelemetryService&) = delete;
  TelemetryService& operator=(const TelemetryService&) = delete;

 private:
  void Submit(sdbus::Result<std::uint64_t>&& result, std::string stream,
              std::map<std::string, sdbus::Variant> values) override;
  void RaiseAlert(sdbus::Result<std::uint64_t>&& result, std::string id, std::string severity,
                  std::string summary, std::map<std::string, sdbus::Variant> details) override;
  void ClearAlert(sdbus::Result<std::uint64_t>&& result, std::string id) override;

  daemon::dbus::BusService& bus_;
  MonitoringPlugin& plugin_;
};

}  // namespace tether::plugins::monitoring
