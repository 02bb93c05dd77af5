// The monitoring service's JSON routes (docs/hub.md, "Monitoring"). All GET, all
// behind the operator's session; {id} must be a registered device (else 404).
//
//   /api/telemetry/open-alerts                 {"<device>": <open alerts>, ...}
//   /api/devices/{id}/telemetry                status + inventory, latest value of
//                                              every stream, open alerts, cursor
//   /api/devices/{id}/telemetry/records?after=C&limit=N    records stored after cursor C
//   /api/devices/{id}/telemetry/series?stream=S&field=F&from=MS&to=MS&points=N
//                                              one numeric field, downsampled server-side
//                                              to at most N buckets (mean, min, max)
//   /api/devices/{id}/telemetry/alerts?limit=N alert records, newest first
//   /api/devices/{id}/telemetry/presence?limit=N  online / offline / shutdown times
#pragma once

#include <optional>
#include <string>

#include "hub/services/protocol_service.hpp"

namespace tether::hub {

class MonitoringApi final : public ApiHandler {
 public:
  // Largest answers: records per poll, buckets per series, history rows.
  static constexpr std::size_t kMaxRecords = 1000;
  static constexpr std::size_t kMaxPoints = 2000;
  static constexpr std::size_t kMaxHistory = 1000;

  explicit MonitoringApi(ServiceContext context) : context_(context) {}

  std::optional<HttpResponse> handle(const HttpRequest& request, const Caller& caller) override;

 private:
  HttpResponse device_route(const HttpRequest& request, const std::string& device,
                            const std::string& rest);
  HttpResponse overview(const std::string& device);
  HttpResponse records(const HttpRequest& request, const std::string& device);
  HttpResponse series(const HttpRequest& request, const std::string& device);
  HttpResponse alerts(const HttpRequest& request, const std::string& device);
  HttpResponse presence(const HttpRequest& request, const std::string& device);
  HttpResponse open_alert_counts();

  ServiceContext context_;
};

}  // namespace tether::hub
