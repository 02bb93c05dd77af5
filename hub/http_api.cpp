#include "hub/http_api.hpp"

#include <algorithm>
#include <utility>

#include "hub/json.hpp"
#include "hub/services/device_list_api.hpp"

namespace tether::hub {

namespace {

HttpResponse error(unsigned status, const std::string& message) {
  return HttpResponse{status, "{\"error\":" + json::quote(message) + "}", {}};
}

std::string cookie(const std::string& value, std::uint32_t max_age) {
  return std::string(kSessionCookie) + "=" + value +
         "; Path=/; Max-Age=" + std::to_string(max_age) + "; HttpOnly; Secure; SameSite=Strict";
}

}  // namespace

std::optional<std::string> HttpApi::user_for(const std::optional<std::string>& cookie_value) {
  if (!cookie_value || cookie_value->empty()) return std::nullopt;
  return sessions_.user_of(*cookie_value);
}

HttpResponse HttpApi::handle(const HttpRequest& req) {
  if (req.path == "/api/login") {
    if (req.method != "POST") return error(405, "use POST");
    return login(req);
  }
  const auto user = user_for(req.session_cookie);
  if (!user) return error(401, "not logged in");

  if (req.path == "/api/logout") {
    if (req.method != "POST") return error(405, "use POST");
    sessions_.remove(*req.session_cookie);
    return HttpResponse{200, "{}", cookie("", 0)};
  }
  if (req.path == "/api/session") {
    if (req.method != "GET") return error(405, "use GET");
    return HttpResponse{200, "{\"user\":" + json::quote(*user) + "}", {}};
  }
  // With ?offset=&limit=&q=&online=&alerts=&version= the paged form answers
  // (services/device_list_api.hpp, through the monitoring service's routes).
  if (req.path == "/api/devices" && !wants_device_page(req.query)) {
    if (req.method != "GET") return error(405, "use GET");
    auto devices = store_.list();
    if (!devices.ok()) {
      log_.error(devices.error().wrap("GET /api/devices").message());
      return error(500, "internal error");
    }
    std::string body = "[";
    for (const auto& d : *devices) {
      if (body.size() > 1) body += ",";
      body += device_json(d);
    }
    body += "]";
    return HttpResponse{200, std::move(body), {}};
  }
  for (const auto& service : services_.services()) {
    if (ApiHandler* routes = service->api()) {
      if (auto res = routes->handle(req, *user)) return std::move(*res);
    }
  }
  constexpr std::string_view kDevicePrefix = "/api/devices/";
  if (req.path.compare(0, kDevicePrefix.size(), kDevicePrefix) == 0) {
    if (req.method != "GET") return error(405, "use GET");
    const std::string id = req.path.substr(kDevicePrefix.size());
    if (!valid_device_id(id)) return error(404, "no such device");
    auto d = store_.get(id);
    if (!d.ok()) {
      log_.error(d.error().wrap("GET /api/devices/{id}").message());
      return error(500, "internal error");
    }
    if (!d->has_value()) return error(404, "no such device");
    return HttpResponse{200, device_json(**d), {}};
  }
  return error(404, "no such route");
}

bool HttpApi::login_allowed() {
  constexpr double kFailuresPerSecond = 0.1;  // one more wrong guess every 10 s
  constexpr double kFailureBurst = 5;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - login_refill_).count();
  login_refill_ = now;
  login_tokens_ = std::min(kFailureBurst, login_tokens_ + elapsed * kFailuresPerSecond);
  return login_tokens_ >= 1;
}

HttpResponse HttpApi::login(const HttpRequest& req) {
  if (req.content_type.rfind("application/json", 0) != 0) {
    return error(415, "send application/json");
  }
  auto fields = json::parse_flat_object(req.body);
  if (!fields.ok()) return error(400, "bad request: " + fields.error().message());
  const auto user = fields->find("username");
  const auto pass = fields->find("password");
  if (user == fields->end() || pass == fields->end()) {
    return error(400, "username and password are required");
  }
  if (!login_allowed()) return error(429, "too many failed logins; wait a moment");
  // Always run the (slow) password check so that a wrong name and a wrong password
  // take the same time.
  auto ok = verify_password(pass->second, config_.operator_password_hash);
  if (!ok.ok()) {
    log_.error(ok.error().message());
    return error(500, "internal error");
  }
  const bool name_ok = constant_time_equal(user->second, config_.operator_username);
  if (!*ok || !name_ok) {
    login_tokens_ -= 1;
    log_.info("failed login attempt");
    return error(401, "invalid username or password");
  }
  auto session = sessions_.create(user->second);
  if (!session.ok()) {
    log_.error(session.error().message());
    return error(500, "internal error");
  }
  log_.info("operator " + user->second + " logged in");
  return HttpResponse{200, "{\"user\":" + json::quote(user->second) + "}",
                      cookie(*session, config_.session_ttl_s)};
}

std::string HttpApi::device_json(const DeviceRecord& d) const {
  return hub::device_json(d, devices_, operators_);
}

}  // namespace tether::hub
