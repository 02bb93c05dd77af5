// The small JSON API the web UI uses. Transport-free: the lws glue turns a request
// into an HttpRequest and writes the HttpResponse back.
//
//   POST /api/login    {"username":..,"password":..} -> 200 {"user":..} + session cookie
//   POST /api/logout   -> 200, cookie cleared
//   GET  /api/session  -> 200 {"user":..}
//   GET  /api/devices  -> 200 [device, ...]
//   GET  /api/devices/{id} -> 200 device | 404
//
// Every route but login answers 401 without a valid session cookie.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "hub/auth.hpp"
#include "hub/config.hpp"
#include "hub/log.hpp"
#include "hub/relay.hpp"
#include "hub/store.hpp"

namespace tether::hub {

inline constexpr const char* kSessionCookie = "tether_session";

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::optional<std::string> session_cookie;
  std::string content_type;
  std::string body;
};

struct HttpResponse {
  unsigned status = 200;
  std::string body;        // JSON
  std::string set_cookie;  // empty = none
};

class HttpApi {
 public:
  HttpApi(const HubConfig& config, Store& store, const Relay& relay, OperatorSessions& sessions,
          const Logger& log)
      : config_(config), store_(store), relay_(relay), sessions_(sessions), log_(log) {}

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
  const Relay& relay_;
  OperatorSessions& sessions_;
  const Logger& log_;
  double login_tokens_ = 5;
  std::chrono::steady_clock::time_point login_refill_ = std::chrono::steady_clock::now();
};

}  // namespace tether::hub
