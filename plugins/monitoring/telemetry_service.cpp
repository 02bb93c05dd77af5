#include "plugins/monitoring/telemetry_service.hpp"

#include <memory>
#include <utility>

#include "dbus/variant_msgpack.hpp"
#include "plugins/monitoring/monitoring_plugin.hpp"

namespace tether::plugins::monitoring {
namespace {

using Pending = std::shared_ptr<sdbus::Result<std::uint64_t>>;

// sdbus::Result is move-only and the plugin's callback is a std::function (copyable):
// the pending reply travels in a shared_ptr.
MonitoringPlugin::SeqDone replier(daemon::dbus::BusService& bus, Pending pending) {
  return [&bus, pending = std::move(pending)](Result<std::uint64_t> seq) {
    if (seq) {
      (void)bus.reply(*pending, *seq);
    } else {
      (void)bus.reply_error(*pending, seq.error());
    }
  };
}

}  // namespace

TelemetryService::TelemetryService(daemon::dbus::BusService& bus, MonitoringPlugin& plugin)
    : AdaptorInterfaces(bus.connection(), daemon::dbus::BusService::kObjectPath),
      bus_(bus),
      plugin_(plugin) {
  registerAdaptor();
}

TelemetryService::~TelemetryService() {
  unregisterAdaptor();
}

void TelemetryService::Submit(sdbus::Result<std::uint64_t>&& result, std::string stream,
                              std::map<std::string, sdbus::Variant> values) {
  auto pending = std::make_shared<sdbus::Result<std::uint64_t>>(std::move(result));
  auto mapped = tether::dbus::variants_to_map(values, "values");
  if (!mapped) {
    (void)bus_.reply_error(*pending, mapped.error());
    return;
  }
  plugin_.submit(std::move(stream), std::move(*mapped), replier(bus_, pending));
}

void TelemetryService::RaiseAlert(sdbus::Result<std::uint64_t>&& result, std::string id,
                                  std::string severity, std::string summary,
                                  std::map<std::string, sdbus::Variant> details) {
  auto pending = std::make_shared<sdbus::Result<std::uint64_t>>(std::move(result));
  auto mapped = tether::dbus::variants_to_map(details, "details");
  if (!mapped) {
    (void)bus_.reply_error(*pending, mapped.error());
    return;
  }
  plugin_.raise_alert(std::move(id), std::move(severity), std::move(summary), std::move(*mapped),
                      replier(bus_, pending));
}

void TelemetryService::ClearAlert(sdbus::Result<std::uint64_t>&& result, std::string id) {
  auto pending = std::make_shared<sdbus::Result<std::uint64_t>>(std::move(result));
  plugin_.clear_alert(std::move(id), replier(bus_, pending));
}

}  // namespace tether::plugins::monitoring
