// The small JSON API the web UI uses. Transport-free: the lws glue turns a request
// into an HttpRequest and writes the HttpResponse back.
//
//   POST /api/login    {"username":..,"password":..} -> 200 {"user":..} + session cookie
//   POST /api/logout   -> 200, cookie cleared
//   GET  /api/session  -> 200 {"user":..}
//   GET  /api/devices  -> 200 [device, ...]
//   GET  /api/devices?offset=&limit=&q=&online=&alerts=&version= -> 200 one page
//        {"total","offset","limit","devices","versions"} (services/device_list_api.hpp)
//   GET  /api/devices/{id} -> 200 device | 404
//
// Every route but login answers 401 without a valid session cookie. Routes the
// API does not know are offered to each protocol service's ApiHandler (in
// registration order) before the answer is 404.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "hub/auth.hpp"
#include "hub/config.hpp"
#include "hub/devices/device_side.hpp"
#include "hub/http_types.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/service_registry.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

inline constexpr const char* kSessionCookie = "tether_session";

class HttpApi {
 public:
  // The API reaches devices, operators and services through the same interfaces
  // the services use, so a route can send (to a device wherever its link is).
  HttpApi(const HubConfig& config, Store& store, DeviceSide& devices, OperatorSide& operators,
          ServiceRegistry& services, OperatorSessions& sessions, const Logger& log)
      : config_(config),
        store_(store),
        devices_(devices),
        operators_(operators),
        services_(services),
        sessions_(sessions),
        log_(log) {}

  // The operator behind a session cookie value, if it is a live session.
  std::optional<std::string> user_for(const std::optional<std::string>& cookie);

  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse login(const HttpRequest& request);
  std::string device_json(const DeviceRecord& d) const;

  // Guessing is bounded: a few failed logins in a burst, then one per 10 s, for
  // everyone (the hub has one operator account and listens on loopback by default).
  // Each check is a deliberately slow hash on the loop, so this also bounds stalls.
  bool login_allowed();

  const HubConfig& config_;
  Store& store_;
  DeviceSide& devices_;
  OperatorSide& operators_;
  ServiceRegistry& services_;
  OperatorSessions& sessions_;
  const Logger& log_;
  double login_tokens_ = 5;
  std::chrono::steady_clock::time_point login_refill_ = std::chrono::steady_clock::now();
};

}  // namespace tether::hub
