// The JSON API the web UI and scripts use. Transport-free: the lws glue turns a
// request into an HttpRequest and writes the HttpResponse back, possibly later
// (a login's password check runs off the loop).
//
//   POST /api/login    {"username":..,"password":..} -> 200 {"user":..,"role":..} + cookie
//   POST /api/logout   -> 200, cookie cleared                          viewer
//   GET  /api/session  -> 200 {"user":..,"role":..}                    viewer
//   GET  /api/devices  -> 200 [device, ...]                            viewer
//   GET  /api/devices?offset=&limit=&q=&online=&alerts=&version= -> 200 one page
//        {"total","offset","limit","devices","versions"} (services/device_list_api.hpp)
//   GET  /api/devices/{id} -> 200 device | 404                         viewer
//   accounts, tokens, audit: hub/operators/accounts_api.hpp
//
// Every route but login answers 401 without a valid session cookie or API token
// (Authorization: Bearer). Routes the API does not know are offered to each
// protocol service's ApiHandler (in registration order) before the answer is 404;
// a write (any method but GET) there needs the operator role at least, whatever
// the service checks itself, and is recorded in the audit trail (api.write with
// the method, path, device, status and caller).
#pragma once

#include <optional>
#include <string>

#include "hub/auth.hpp"
#include "hub/config.hpp"
#include "hub/devices/device_side.hpp"
#include "hub/http_types.hpp"
#include "hub/operators/accounts_api.hpp"
#include "hub/operators/audit.hpp"
#include "hub/operators/operator_auth.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/service_registry.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

class HttpApi {
 public:
  // The API reaches devices, operators and services through the same interfaces
  // the services use, so a route can send (to a device wherever its link is).
  HttpApi(Store& store, DeviceSide& devices, OperatorSide& operators, ServiceRegistry& services,
          OperatorAuth& auth, AccountsApi& accounts, AuditTrail audit, const Logger& log)
      : store_(store),
        devices_(devices),
        operators_(operators),
        services_(services),
        auth_(auth),
        accounts_(accounts),
        audit_(audit),
        log_(log) {}

  // The caller behind a session cookie or an API token (WebSocket admission).
  std::optional<Caller> caller_for(const std::optional<std::string>& cookie,
                                   const std::optional<std::string>& authorization) {
    return auth_.caller_for(cookie, authorization);
  }

  // Answers through `done`, now or later (on the loop thread).
  void handle(const HttpRequest& request, HttpReply done);
  // For callers whose answer is immediate (tests with an inline password worker):
  // a 500 if the answer did not come before returning.
  HttpResponse handle(const HttpRequest& request);

 private:
  std::optional<HttpResponse> own_route(const HttpRequest& request, const Caller& caller);
  std::string device_json(const DeviceRecord& d) const;

  Store& store_;
  DeviceSide& devices_;
  OperatorSide& operators_;
  ServiceRegistry& services_;
  OperatorAuth& auth_;
  AccountsApi& accounts_;
  AuditTrail audit_;
  const Logger& log_;
};

}  // namespace tether::hub
