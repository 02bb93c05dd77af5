#include "hub/services/config_service.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>

#include "hub/devices/device_side.hpp"
#include "hub/json.hpp"
#include "hub/loop_inbox.hpp"
#include "hub/services/control_messages.hpp"
#include "hub/store/store.hpp"
#include "protocol/config.hpp"

namespace tether::hub {

namespace {

namespace proto = protocol::proto;
namespace wire = protocol::config;
using Json = nlohmann::json;

constexpr auto kMaxVersion = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

HttpResponse error(unsigned status, const std::string& message) {
  return HttpResponse{status, "{\"error\":" + json::quote(message) + "}", {}};
}

// A string from a device or the store as a JSON value: invalid UTF-8 becomes U+FFFD.
Json text(const std::string& s) {
  return Json::parse(json::quote(s));
}

// A stored JSON document as a value ({} if it does not parse: never a 500 for it).
Json document(const std::string& s) {
  Json parsed = Json::parse(s, nullptr, false);
  return parsed.is_discarded() ? Json::object() : parsed;
}

Json version_json(const ConfigVersion& v) {
  Json out = Json::object();
  out["version"] = v.version;
  out["mode"] = text(v.mode);
  out["pushed_by"] = text(v.pushed_by);
  out["pushed_at"] = v.pushed_ms;
  out["state"] = std::string(config_state_name(v.state));
  out["reason"] = v.reason.empty() ? Json(nullptr) : text(v.reason);
  out["answered_at"] = v.answered_ms == 0 ? Json(nullptr) : Json(v.answered_ms);
  out["document"] = document(v.document_json);
  return out;
}

std::string clip(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : s.substr(0, n);
}

}  // namespace

ConfigService::ConfigService(ServiceContext context)
    : context_(context), self_(std::make_shared<ConfigService*>(this)) {}

ConfigService::~ConfigService() {
  *self_ = nullptr;
}

// ------------------------------------------------------------------ device side

void ConfigService::on_device_online(const std::string& device_id) {
  sent_on_link_.erase(device_id);
  deliver(device_id);
}

void ConfigService::on_device_offline(const std::string& device_id) {
  sent_on_link_.erase(device_id);
}

void ConfigService::on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == wire::kApplied) {
    auto applied = protocol::ConfigApplied::decode(msg.body);
    if (!applied.ok()) return refuse(device_id, msg, applied.error());
    answered(device_id, applied->version, std::nullopt);
  } else if (typ == wire::kError) {
    auto refused = protocol::ConfigError::decode(msg.body);
    if (!refused.ok()) return refuse(device_id, msg, refused.error());
    answered(device_id, refused->version, refused->err);
  } else if (typ == wire::kCurrent) {
    reported(device_id, msg);
  } else {
    refuse(device_id, msg,
           Error(ErrorCode::kProtocol, "unknown config typ '" + clip(typ, 64) + "'"));
  }
}

void ConfigService::deliver(const std::string& device_id) {
  if (!context_.devices.online(device_id)) return;
  auto latest = context_.config.latest(device_id);
  if (!latest.ok()) {
    context_.log.error(latest.error().wrap("reading the config of " + device_id).message());
    return;
  }
  if (!latest->has_value()) return;
  const ConfigVersion& v = **latest;
  if (v.state != ConfigState::kPending) return;
  if (uncommitted_.count({device_id, v.version}) != 0) return;  // its commit will call again
  if (auto sent = sent_on_link_.find(device_id);
      sent != sent_on_link_.end() && sent->second == v.version) {
    return;
  }
  auto values = config_json::to_msgpack(v.document_json);
  if (!values.ok()) {
    context_.log.error(values.error()
                           .wrap("config version " + std::to_string(v.version) + " of " + device_id)
                           .message());
    return;
  }
  const protocol::ConfigSet set{v.version, std::move(*values), true};
  auto sent = context_.devices.send(
      device_id, protocol::make_msg(proto::kConfig, wire::kSet, {}, {}, set.encode()), true);
  if (!sent.ok()) {
    // Offline again or its queue is full: the next connect sends it.
    context_.log.info("config version " + std::to_string(v.version) + " for " + device_id +
                      " not sent now: " + sent.error().message());
    return;
  }
  sent_on_link_[device_id] = v.version;
  context_.log.info("config version " + std::to_string(v.version) + " sent to " + device_id);
}

void ConfigService::committed(const std::string& device_id, std::uint64_t version,
                              const Status& status) {
  uncommitted_.erase({device_id, version});
  if (!status.ok()) {
    // The store forgets the version; the operator sees it gone and pushes again.
    context_.log.error(
        status.error()
            .wrap("storing config version " + std::to_string(version) + " of " + device_id)
            .message());
    return;
  }
  deliver(device_id);
}

void ConfigService::settle(const std::string& device_id, ConfigVersion latest, ConfigState state,
                           const std::string& reason) {
  latest.state = state;
  latest.reason = clip(reason, kMaxReason);
  latest.answered_ms = now_ms();
  context_.log.info("device " + device_id + ": config version " + std::to_string(latest.version) +
                    " " + std::string(config_state_name(state)) +
                    (latest.reason.empty() ? "" : ": " + latest.reason));
  context_.config.put_version(device_id, latest, {});
}

void ConfigService::answered(const std::string& device_id, std::uint64_t version,
                             const std::optional<std::string>& refusal) {
  auto latest = context_.config.latest(device_id);
  if (!latest.ok()) {
    context_.log.error(latest.error().wrap("reading the config of " + device_id).message());
    return;
  }
  const std::optional<ConfigVersion>& v = *latest;
  const bool pending = v && v->state == ConfigState::kPending;
  if (refusal) {
    if (pending && v->version == version) {
      settle(device_id, *v, ConfigState::kError, *refusal);
    } else {
      // An answer about an older (or no) version: nothing to update.
      context_.log.info("device " + device_id + " refused config version " +
                        std::to_string(version) + ": " + clip(*refusal, kMaxReason));
    }
    return;
  }
  if (v && v->version == version) {
    if (pending) settle(device_id, *v, ConfigState::kApplied, {});
    // The device holds exactly this document (sets are replace:true).
    context_.config.put_reported(device_id, ReportedConfig{version, v->document_json, now_ms()});
    return;
  }
  if (v && version < v->version) {
    context_.log.debug("device " + device_id + ": applied for old config version " +
                       std::to_string(version));
    return;
  }
  // The device holds a version the hub did not push (or newer than its newest):
  // a pending push would be ignored by it. Learn what it holds.
  if (pending) {
    settle(device_id, *v, ConfigState::kError,
           "the device holds config version " + std::to_string(version) +
               ", newer than this one; push again");
  }
  ask_current(device_id);
}

void ConfigService::reported(const std::string& device_id, const protocol::ProtoMsg& msg) {
  auto current = protocol::ConfigCurrent::decode(msg.body);
  if (!current.ok()) return refuse(device_id, msg, current.error());
  ReportedConfig r{current->version, config_json::to_json(current->values), now_ms()};
  if (r.values_json.size() > kMaxReportedJson) {
    context_.log.info("device " + device_id + ": reported config over " +
                      std::to_string(kMaxReportedJson) + " bytes as JSON; its values are not kept");
    r.values_json = "{}";
  }
  context_.config.put_reported(device_id, r);
  auto latest = context_.config.latest(device_id);
  if (!latest.ok()) {
    context_.log.error(latest.error().wrap("reading the config of " + device_id).message());
    return;
  }
  if (!latest->has_value() || (*latest)->state != ConfigState::kPending) return;
  const ConfigVersion& v = **latest;
  if (r.version == v.version) {
    // Applied before; its answer was lost with a link.
    settle(device_id, v, ConfigState::kApplied, {});
  } else if (r.version > v.version) {
    settle(device_id, v, ConfigState::kError,
           "the device holds config version " + std::to_string(r.version) +
               ", newer than this one; push again");
  } else {
    deliver(device_id);  // does nothing if this link already carried it
  }
}

void ConfigService::ask_current(const std::string& device_id) {
  (void)context_.devices.send(device_id, protocol::make_msg(proto::kConfig, wire::kGet), true);
}

void ConfigService::refuse(const std::string& device_id, const protocol::ProtoMsg& msg,
                           const Error& error) {
  context_.log.debug("device " + device_id + ": " + error.message());
  (void)context_.devices.send(device_id,
                              control_error("config: " + error.message(), false, &msg.hdr), true);
}

// ------------------------------------------------------------------ JSON API

std::optional<HttpResponse> ConfigService::handle(const HttpRequest& request,
                                                  const Caller& caller) {
  constexpr std::string_view kPrefix = "/api/devices/";
  if (request.path.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  const std::string rest = request.path.substr(kPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string device = rest.substr(0, slash);
  const std::string tail = rest.substr(slash);
  if (tail != "/config" && tail != "/config/history") return std::nullopt;
  const bool is_push = tail == "/config" && request.method == "POST";
  if (request.method != "GET" && !is_push) {
    return error(405, tail == "/config" ? "use GET or POST" : "use GET");
  }
  if (!caller.may(is_push ? Role::kOperator : Role::kViewer)) {
    return forbidden(is_push ? Role::kOperator : Role::kViewer);
  }
  if (!valid_device_id(device)) return error(404, "no such device");
  auto known = context_.store.get(device);
  if (!known.ok()) {
    context_.log.error(known.error().wrap("config API").message());
    return error(500, "internal error");
  }
  if (!known->has_value()) return error(404, "no such device");
  if (tail == "/config/history") return history(request, device);
  if (is_push) return push(request, device, caller);
  return get_config(device);
}

HttpResponse ConfigService::get_config(const std::string& device) {
  auto latest = context_.config.latest(device);
  auto reported = context_.config.reported(device);
  if (!latest.ok() || !reported.ok()) {
    const Error& e = !latest.ok() ? latest.error() : reported.error();
    context_.log.error(e.wrap("GET config of " + device).message());
    return error(500, "internal error");
  }
  Json out = Json::object();
  out["device"] = device;
  out["online"] = context_.devices.online(device);
  if (latest->has_value()) {
    out.update(version_json(**latest));
  } else {
    out["version"] = 0;
    out["state"] = "none";
    out["document"] = Json::object();
    for (const char* key : {"mode", "pushed_by", "pushed_at", "reason", "answered_at"}) {
      out[key] = nullptr;
    }
  }
  if (reported->has_value()) {
    const ReportedConfig& r = **reported;
    out["reported"] = {
        {"version", r.version}, {"values", document(r.values_json)}, {"at", r.at_ms}};
  } else {
    out["reported"] = nullptr;
  }
  return HttpResponse{200, out.dump(), {}};
}

HttpResponse ConfigService::push(const HttpRequest& request, const std::string& device,
                                 const Caller& caller) {
  if (request.content_type.rfind("application/json", 0) != 0) {
    return error(415, "send the config as application/json");
  }
  auto body = config_json::parse_push(request.body, limits_);
  if (!body.ok()) return error(400, body.error().message());
  auto latest = context_.config.latest(device);
  auto reported = context_.config.reported(device);
  if (!latest.ok() || !reported.ok()) {
    const Error& e = !latest.ok() ? latest.error() : reported.error();
    context_.log.error(e.wrap("pushing config to " + device).message());
    return error(500, "internal error");
  }
  const std::uint64_t newest = latest->has_value() ? (*latest)->version : 0;
  if (body->expect_version && *body->expect_version != newest) {
    return error(409, "the config is at version " + std::to_string(newest) + ", not " +
                          std::to_string(*body->expect_version) +
                          ": someone pushed meanwhile; reload it and push again");
  }
  // A merge applies to what the device has (or is about to have): the newest
  // version unless the device refused it or reports something newer.
  std::string base = "{}";
  const bool device_ahead =
      reported->has_value() && (!latest->has_value() || (*reported)->version > newest);
  const bool on_reported = reported->has_value() && (device_ahead || !latest->has_value() ||
                                                     (*latest)->state == ConfigState::kError);
  if (on_reported) {
    base = (*reported)->values_json;
  } else if (latest->has_value()) {
    base = (*latest)->document_json;
  }
  auto next = config_json::next_document(base, *body, limits_);
  if (!next.ok()) return error(400, next.error().message());
  const std::uint64_t device_version = reported->has_value() ? (*reported)->version : 0;
  const std::uint64_t floor = std::max(newest, device_version);
  if (floor >= kMaxVersion) {
    return error(409, "the device's config version is at its maximum; it cannot be pushed again");
  }
  const std::int64_t now = now_ms();
  if (latest->has_value() && (*latest)->state == ConfigState::kPending) {
    ConfigVersion old = **latest;
    old.state = ConfigState::kSuperseded;
    old.answered_ms = now;
    context_.config.put_version(device, old, {});
  }
  ConfigVersion v;
  v.version = floor + 1;
  v.document_json = std::move(*next);
  v.mode = body->replace ? "replace" : "merge";
  v.pushed_by = caller.user;
  v.pushed_ms = now;
  v.state = ConfigState::kPending;
  uncommitted_.insert({device, v.version});
  LoopInbox& inbox = context_.inbox;
  std::weak_ptr<ConfigService*> self = self_;
  const std::uint64_t version = v.version;
  context_.config.put_version(device, v, [&inbox, self, device, version](const Status& status) {
    inbox.post([self, device, version, status] {
      if (auto alive = self.lock(); alive && *alive) (*alive)->committed(device, version, status);
    });
  });
  context_.log.info(caller.user + " pushed config version " + std::to_string(version) + " (" +
                    v.mode + ") to " + device);
  Json out = version_json(v);
  out["device"] = device;
  out["online"] = context_.devices.online(device);
  return HttpResponse{202, out.dump(), {}};
}

HttpResponse ConfigService::history(const HttpRequest& request, const std::string& device) {
  std::size_t limit = 50;
  if (auto it = request.query.find("limit"); it != request.query.end() && !it->second.empty()) {
    std::uint64_t n = 0;
    const char* end = it->second.data() + it->second.size();
    auto [p, ec] = std::from_chars(it->second.data(), end, n);
    if (ec != std::errc() || p != end || n == 0) return error(400, "limit is an integer >= 1");
    limit = static_cast<std::size_t>(std::min<std::uint64_t>(n, kMaxHistoryAnswer));
  }
  auto rows = context_.config.history(device, limit);
  if (!rows.ok()) {
    context_.log.error(rows.error().wrap("GET config history of " + device).message());
    return error(500, "internal error");
  }
  Json out = Json::array();
  for (const ConfigVersion& v : *rows) out.push_back(version_json(v));
  return HttpResponse{200, out.dump(), {}};
}

}  // namespace tether::hub
