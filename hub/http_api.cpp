#include "hub/http_api.hpp"

#include <algorithm>
#include <utility>

#include "hub/json.hpp"
#include "hub/services/device_list_api.hpp"

namespace tether::hub {

namespace {

// The device a route is about: /api/devices/{id}[/...].
std::string device_of_path(const std::string& path) {
  constexpr std::string_view kPrefix = "/api/devices/";
  if (path.compare(0, kPrefix.size(), kPrefix) != 0) return {};
  const std::string rest = path.substr(kPrefix.size());
  std::string id = rest.substr(0, rest.find('/'));
  return valid_device_id(id) ? id : std::string();
}

std::string outcome_of(unsigned status) {
  if (status < 400) return "ok";
  if (status == 401 || status == 403) return "denied";
  return "failed";
}

}  // namespace

HttpResponse HttpApi::handle(const HttpRequest& request) {
  std::optional<HttpResponse> answer;
  handle(request, [&answer](HttpResponse res) { answer = std::move(res); });
  if (!answer) return json_error(500, "the answer is asynchronous");
  return std::move(*answer);
}

void HttpApi::handle(const HttpRequest& req, HttpReply done) {
  if (req.path == "/api/login") {
    if (req.method != "POST") return done(json_error(405, "use POST"));
    return auth_.login(req, done);
  }
  bool via_token = false;
  const auto caller = auth_.caller_for(req.session_cookie, req.authorization, &via_token);
  if (!caller) return done(json_error(401, "not logged in"));

  if (auto res = own_route(req, *caller)) return done(std::move(*res));
  if (accounts_.handle(req, *caller, via_token, done)) return;

  // Writes through a service: operator at least, and each one audited whatever
  // the service does itself.
  const bool write = req.method != "GET";
  auto answer = [&](HttpResponse res) {
    if (write) {
      audit_.record(
          {caller->user, "api.write", device_of_path(req.path), outcome_of(res.status),
           req.method + " " + req.path.substr(0, 200) + " -> " + std::to_string(res.status),
           req.peer, 0});
    }
    done(std::move(res));
  };
  // A viewer writes nothing: refused before any service sees the request (so a
  // service that forgets its check cannot act for a viewer). An unknown route
  // answers 403 to a viewer's write rather than 404.
  if (write && !caller->may(Role::kOperator)) return answer(forbidden(Role::kOperator));
  for (const auto& service : services_.services()) {
    if (ApiHandler* routes = service->api()) {
      if (auto res = routes->handle(req, *caller)) return answer(std::move(*res));
    }
  }
  constexpr std::string_view kDevicePrefix = "/api/devices/";
  if (req.path.compare(0, kDevicePrefix.size(), kDevicePrefix) == 0) {
    if (req.method != "GET") return answer(json_error(405, "use GET"));
    const std::string id = req.path.substr(kDevicePrefix.size());
    if (!valid_device_id(id)) return answer(json_error(404, "no such device"));
    auto d = store_.get(id);
    if (!d.ok()) {
      log_.error(d.error().wrap("GET /api/devices/{id}").message());
      return answer(json_error(500, "internal error"));
    }
    if (!d->has_value()) return answer(json_error(404, "no such device"));
    return answer(HttpResponse{200, device_json(**d), {}});
  }
  answer(json_error(404, "no such route"));
}

std::optional<HttpResponse> HttpApi::own_route(const HttpRequest& req, const Caller& caller) {
  if (req.path == "/api/logout") {
    if (req.method != "POST") return json_error(405, "use POST");
    return auth_.logout(req, caller);
  }
  if (req.path == "/api/session") {
    if (req.method != "GET") return json_error(405, "use GET");
    return HttpResponse{200,
                        "{\"user\":" + json::quote(caller.user) +
                            ",\"role\":" + json::quote(std::string(role_name(caller.role))) + "}",
                        {}};
  }
  // With ?offset=&limit=&q=&online=&alerts=&version= the paged form answers
  // (services/device_list_api.hpp, through the monitoring service's routes).
  if (req.path == "/api/devices" && !wants_device_page(req.query)) {
    if (req.method != "GET") return json_error(405, "use GET");
    if (!caller.may(Role::kViewer)) return forbidden(Role::kViewer);
    auto devices = store_.list();
    if (!devices.ok()) {
      log_.error(devices.error().wrap("GET /api/devices").message());
      return json_error(500, "internal error");
    }
    std::string body = "[";
    for (const auto& d : *devices) {
      if (body.size() > 1) body += ",";
      body += device_json(d);
    }
    body += "]";
    return HttpResponse{200, std::move(body), {}};
  }
  return std::nullopt;
}

std::string HttpApi::device_json(const DeviceRecord& d) const {
  return hub::device_json(d, devices_, operators_);
}

}  // namespace tether::hub
