#include "hub/services/device_list_api.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <unordered_map>
#include <vector>

#include "hub/json.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/store/monitoring_store.hpp"

namespace tether::hub {

namespace {

constexpr const char* kParams[] = {"offset", "limit", "q", "online", "alerts", "version"};
constexpr std::size_t kMaxVersions = 100;

HttpResponse error(unsigned status, const std::string& message) {
  return HttpResponse{status, "{\"error\":" + json::quote(message) + "}", {}};
}

Result<std::size_t> count_param(const std::string& name, const std::string& text, std::size_t min,
                                std::size_t max) {
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return Error(
        ErrorCode::kInvalidArgument,
        name + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

Result<std::optional<bool>> bool_param(const std::string& name, const std::string& text) {
  if (text.empty()) return std::optional<bool>();
  if (text == "true" || text == "1") return std::optional<bool>(true);
  if (text == "false" || text == "0") return std::optional<bool>(false);
  return Error(ErrorCode::kInvalidArgument, name + " must be true or false");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool wants_device_page(const std::map<std::string, std::string>& query) {
  return std::any_of(std::begin(kParams), std::end(kParams),
                     [&](const char* p) { return query.count(p) != 0; });
}

Result<DeviceListQuery> parse_device_list_query(const std::map<std::string, std::string>& query) {
  DeviceListQuery q;
  if (auto it = query.find("offset"); it != query.end()) {
    auto v = count_param("offset", it->second, 0, 100'000'000);
    if (!v.ok()) return v.error();
    q.offset = *v;
  }
  if (auto it = query.find("limit"); it != query.end()) {
    auto v = count_param("limit", it->second, 1, DeviceListQuery::kMaxLimit);
    if (!v.ok()) return v.error();
    q.limit = *v;
  }
  if (auto it = query.find("q"); it != query.end()) {
    if (it->second.size() > DeviceListQuery::kMaxSearch) {
      return Error(ErrorCode::kInvalidArgument,
                   "q must be at most " + std::to_string(DeviceListQuery::kMaxSearch) + " bytes");
    }
    q.q = lower(it->second);
  }
  for (const auto& [name, field] :
       {std::pair{"online", &q.online}, std::pair{"alerts", &q.alerts}}) {
    if (auto it = query.find(name); it != query.end()) {
      auto v = bool_param(name, it->second);
      if (!v.ok()) return v.error();
      *field = *v;
    }
  }
  if (auto it = query.find("version"); it != query.end() && !it->second.empty()) {
    if (it->second.size() > DeviceListQuery::kMaxSearch) {
      return Error(ErrorCode::kInvalidArgument, "version must be at most 128 bytes");
    }
    q.version = it->second;
  }
  return q;
}

std::string device_json(const DeviceRecord& d, const DeviceSide& devices,
                        const OperatorSide& operators) {
  const bool online = devices.online(d.id);
  std::string s = "{\"id\":" + json::quote(d.id);
  s += ",\"online\":";
  s += online ? "true" : "false";
  s += ",\"last_seen\":";
  s += online ? std::to_string(now_ms())
              : (d.last_seen_ms ? std::to_string(d.last_seen_ms) : std::string("null"));
  s += ",\"version\":" + (d.version.empty() ? std::string("null") : json::quote(d.version));
  s += ",\"operators\":" + std::to_string(operators.operators_of(d.id));
  s += ",\"status\":";
  if (d.status_ms == 0) {
    s += "null";
  } else {
    s += "{\"state\":" + json::quote(d.state) + ",\"boot_id\":" + json::quote(d.boot_id) +
         ",\"uptime_s\":" + (d.uptime_s < 0 ? std::string("null") : std::to_string(d.uptime_s)) +
         ",\"at\":" + std::to_string(d.status_ms) + "}";
  }
  s += "}";
  return s;
}

std::optional<HttpResponse> device_list_route(const ServiceContext& context,
                                              const HttpRequest& request) {
  if (request.path != "/api/devices" || !wants_device_page(request.query)) return std::nullopt;
  if (request.method != "GET") return error(405, "use GET");
  auto query = parse_device_list_query(request.query);
  if (!query.ok()) return error(400, query.error().message());
  auto all = context.store.list();
  if (!all.ok()) {
    context.log.error(all.error().wrap("GET /api/devices (page)").message());
    return error(500, "internal error");
  }
  std::unordered_map<std::string, std::size_t> open_alerts;
  if (query->alerts) {
    auto counts = context.monitoring.open_alert_counts();
    if (!counts.ok()) {
      context.log.error(counts.error().wrap("GET /api/devices (page)").message());
      return error(500, "internal error");
    }
    for (auto& [id, n] : *counts) open_alerts.emplace(std::move(id), n);
  }
  std::set<std::string> versions;
  std::size_t total = 0;
  std::string page;
  for (const DeviceRecord& d : *all) {
    if (!d.version.empty() && versions.size() < kMaxVersions) versions.insert(d.version);
    if (!query->q.empty() && lower(d.id).find(query->q) == std::string::npos &&
        lower(d.version).find(query->q) == std::string::npos) {
      continue;
    }
    if (query->version && d.version != *query->version) continue;
    if (query->online && context.devices.online(d.id) != *query->online) continue;
    if (query->alerts) {
      const auto it = open_alerts.find(d.id);
      const bool has = it != open_alerts.end() && it->second > 0;
      if (has != *query->alerts) continue;
    }
    if (total >= query->offset && total < query->offset + query->limit) {
      if (!page.empty()) page += ",";
      page += device_json(d, context.devices, context.operators);
    }
    ++total;
  }
  std::string body =
      "{\"total\":" + std::to_string(total) + ",\"offset\":" + std::to_string(query->offset) +
      ",\"limit\":" + std::to_string(query->limit) + ",\"devices\":[" + page + "],\"versions\":[";
  bool first = true;
  for (const auto& v : versions) {
    body += (first ? "" : ",") + json::quote(v);
    first = false;
  }
  body += "]}";
  return HttpResponse{200, std::move(body), {}};
}

}  // namespace tether::hub
