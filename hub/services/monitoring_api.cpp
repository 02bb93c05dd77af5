#include "hub/services/monitoring_api.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "hub/json.hpp"
#include "hub/services/device_list_api.hpp"
#include "hub/store/monitoring_store.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

namespace {

HttpResponse error(unsigned status, const std::string& message) {
  return HttpResponse{status, "{\"error\":" + json::quote(message) + "}", {}};
}

HttpResponse internal(const ServiceContext& context, const Error& e, const std::string& route) {
  context.log.error(e.wrap(route).message());
  return error(500, "internal error");
}

// An integer query parameter: `fallback` when absent, nullopt when malformed.
std::optional<std::int64_t> int_param(const HttpRequest& r, const char* key,
                                      std::int64_t fallback) {
  auto it = r.query.find(key);
  if (it == r.query.end() || it->second.empty()) return fallback;
  std::int64_t v = 0;
  const auto* end = it->second.data() + it->second.size();
  auto [p, ec] = std::from_chars(it->second.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::string record_json(const StoredRecord& s) {
  const MonitoringRecord& r = s.record;
  std::string out = "{\"cursor\":" + std::to_string(s.cursor) +
                    ",\"seq\":" + std::to_string(r.seq) + ",\"ts\":" + std::to_string(r.ts) +
                    ",\"received\":" + std::to_string(s.received_ms) + ",\"kind\":\"" +
                    record_kind_name(r.kind) + "\"";
  switch (r.kind) {
    case RecordKind::kData:
      out += ",\"stream\":" + json::quote(r.stream) + ",\"values\":" + r.body_json;
      break;
    case RecordKind::kAlert:
      out += ",\"id\":" + json::quote(r.stream) + ",\"severity\":" + json::quote(r.severity) +
             ",\"state\":" + json::quote(r.alert_state) + ",\"summary\":" + json::quote(r.summary) +
             ",\"details\":" + r.body_json;
      break;
    case RecordKind::kDropped:
      out += ",\"range\":" + r.body_json;
      break;
  }
  return out + "}";
}

template <typename T, typename F>
std::string array_json(const std::vector<T>& items, F each) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ",";
    out += each(item);
  }
  return out + "]";
}

std::string open_alert_json(const OpenAlert& a) {
  return "{\"id\":" + json::quote(a.id) + ",\"severity\":" + json::quote(a.severity) +
         ",\"summary\":" + json::quote(a.summary) + ",\"ts\":" + std::to_string(a.ts) +
         ",\"seq\":" + std::to_string(a.seq) + "}";
}

// A JSON number for a double (finite here: AVG/MIN/MAX of stored numbers).
std::string number(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

}  // namespace

std::optional<HttpResponse> MonitoringApi::handle(const HttpRequest& request,
                                                  const Caller& /*caller*/) {
  // The paged device list filters by open alerts, which live here.
  if (auto page = device_list_route(context_, request)) return page;
  if (request.path == "/api/telemetry/open-alerts") {
    if (request.method != "GET") return error(405, "use GET");
    return open_alert_counts();
  }
  constexpr std::string_view kPrefix = "/api/devices/";
  if (request.path.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  const std::string rest = request.path.substr(kPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string device = rest.substr(0, slash);
  const std::string tail = rest.substr(slash);
  if (tail != "/telemetry" && tail.compare(0, 11, "/telemetry/") != 0) return std::nullopt;
  if (request.method != "GET") return error(405, "use GET");
  if (!valid_device_id(device)) return error(404, "no such device");
  auto known = context_.store.get(device);
  if (!known.ok()) return internal(context_, known.error(), "GET telemetry");
  if (!known->has_value()) return error(404, "no such device");
  return device_route(request, device, tail);
}

HttpResponse MonitoringApi::device_route(const HttpRequest& request, const std::string& device,
                                         const std::string& tail) {
  if (tail == "/telemetry") return overview(device);
  if (tail == "/telemetry/records") return records(request, device);
  if (tail == "/telemetry/series") return series(request, device);
  if (tail == "/telemetry/alerts") return alerts(request, device);
  if (tail == "/telemetry/presence") return presence(request, device);
  return error(404, "no such route");
}

HttpResponse MonitoringApi::overview(const std::string& device) {
  auto& store = context_.monitoring;
  auto status = store.status(device);
  if (!status.ok()) return internal(context_, status.error(), "GET telemetry");
  auto latest = store.latest_per_stream(device);
  if (!latest.ok()) return internal(context_, latest.error(), "GET telemetry");
  auto open = store.open_alerts(device);
  if (!open.ok()) return internal(context_, open.error(), "GET telemetry");
  std::string body = "{\"status\":";
  if (status->has_value()) {
    const DeviceStatusRecord& s = **status;
    body += "{\"state\":" + json::quote(s.state) + ",\"version\":" + json::quote(s.version) +
            ",\"boot_id\":" + json::quote(s.boot_id) +
            ",\"uptime_s\":" + (s.uptime_s < 0 ? std::string("null") : std::to_string(s.uptime_s)) +
            ",\"inventory\":" + s.inventory_json + ",\"at\":" + std::to_string(s.at_ms) + "}";
  } else {
    body += "null";
  }
  // The newest cursor: the UI polls for what comes after it.
  auto cursor = store.last_cursor(device);
  if (!cursor.ok()) return internal(context_, cursor.error(), "GET telemetry");
  body += ",\"latest\":" + array_json(*latest, record_json);
  body += ",\"open_alerts\":" + array_json(*open, open_alert_json);
  auto n = store.count(device);
  if (!n.ok()) return internal(context_, n.error(), "GET telemetry");
  body += ",\"records\":" + std::to_string(*n) + ",\"cursor\":" + std::to_string(*cursor) + "}";
  return HttpResponse{200, std::move(body), {}};
}

HttpResponse MonitoringApi::records(const HttpRequest& request, const std::string& device) {
  const auto after = int_param(request, "after", 0);
  const auto limit = int_param(request, "limit", static_cast<std::int64_t>(kMaxRecords));
  if (!after || !limit || *limit < 1) return error(400, "after and limit are integers, limit >= 1");
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(*limit), kMaxRecords);
  auto rows = context_.monitoring.records_after(device, *after, n);
  if (!rows.ok()) return internal(context_, rows.error(), "GET telemetry/records");
  const std::int64_t cursor = rows->empty() ? *after : rows->back().cursor;
  return HttpResponse{200,
                      "{\"cursor\":" + std::to_string(cursor) +
                          ",\"records\":" + array_json(*rows, record_json) + "}",
                      {}};
}

HttpResponse MonitoringApi::series(const HttpRequest& request, const std::string& device) {
  SeriesQuery q;
  q.device = device;
  const auto stream = request.query.find("stream");
  const auto field = request.query.find("field");
  if (stream == request.query.end() || field == request.query.end() || stream->second.empty() ||
      field->second.empty()) {
    return error(400, "stream and field are required");
  }
  q.stream = stream->second;
  q.field = field->second;
  if (q.field.find_first_of("\"\\") != std::string::npos || q.field.size() > 256) {
    return error(400, "field may not contain quotes or backslashes");
  }
  const std::int64_t now = now_ms();
  const auto to = int_param(request, "to", now);
  const auto from = int_param(request, "from", now - 3600000);
  const auto points = int_param(request, "points", 500);
  if (!to || !from || !points || *from > *to || *points < 1) {
    return error(400, "from <= to and points >= 1 are integers");
  }
  q.from_ms = *from;
  q.to_ms = *to;
  q.max_points = std::min<std::size_t>(static_cast<std::size_t>(*points), kMaxPoints);
  auto rows = context_.monitoring.series(q);
  if (!rows.ok()) return internal(context_, rows.error(), "GET telemetry/series");
  std::string body = "{\"stream\":" + json::quote(q.stream) + ",\"field\":" + json::quote(q.field) +
                     ",\"from\":" + std::to_string(q.from_ms) +
                     ",\"to\":" + std::to_string(q.to_ms) + ",\"points\":";
  body += array_json(*rows, [](const SeriesPoint& p) {
    return "[" + std::to_string(p.ts) + "," + number(p.mean) + "," + number(p.min) + "," +
           number(p.max) + "," + std::to_string(p.count) + "]";
  });
  return HttpResponse{200, body + "}", {}};
}

HttpResponse MonitoringApi::alerts(const HttpRequest& request, const std::string& device) {
  const auto limit = int_param(request, "limit", 200);
  if (!limit || *limit < 1) return error(400, "limit is an integer >= 1");
  auto history = context_.monitoring.alert_history(
      device, std::min<std::size_t>(static_cast<std::size_t>(*limit), kMaxHistory));
  if (!history.ok()) return internal(context_, history.error(), "GET telemetry/alerts");
  auto open = context_.monitoring.open_alerts(device);
  if (!open.ok()) return internal(context_, open.error(), "GET telemetry/alerts");
  return HttpResponse{200,
                      "{\"open\":" + array_json(*open, open_alert_json) +
                          ",\"history\":" + array_json(*history, record_json) + "}",
                      {}};
}

HttpResponse MonitoringApi::presence(const HttpRequest& request, const std::string& device) {
  const auto limit = int_param(request, "limit", 200);
  if (!limit || *limit < 1) return error(400, "limit is an integer >= 1");
  auto rows = context_.monitoring.presence(
      device, std::min<std::size_t>(static_cast<std::size_t>(*limit), kMaxHistory));
  if (!rows.ok()) return internal(context_, rows.error(), "GET telemetry/presence");
  return HttpResponse{200,
                      array_json(*rows,
                                 [](const PresenceEvent& e) {
                                   return "{\"at\":" + std::to_string(e.at_ms) +
                                          ",\"event\":" + json::quote(e.event) + "}";
                                 }),
                      {}};
}

HttpResponse MonitoringApi::open_alert_counts() {
  auto counts = context_.monitoring.open_alert_counts();
  if (!counts.ok()) return internal(context_, counts.error(), "GET telemetry/open-alerts");
  std::string body = "{";
  for (const auto& [device, n] : *counts) {
    if (body.size() > 1) body += ",";
    body += json::quote(device) + ":" + std::to_string(n);
  }
  return HttpResponse{200, body + "}", {}};
}

}  // namespace tether::hub
