#include "hub/services/command_service.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <utility>

#include "hub/auth.hpp"
#include "hub/devices/device_side.hpp"
#include "hub/json.hpp"
#include "hub/loop_inbox.hpp"
#include "hub/services/control_messages.hpp"
#include "hub/services/monitoring_json.hpp"
#include "hub/store/store.hpp"
#include "protocol/codec.hpp"
#include "protocol/command.hpp"

namespace tether::hub {

namespace {

namespace proto = protocol::proto;
namespace wire = protocol::command;
using protocol::Value;

HttpResponse error(unsigned status, const std::string& message) {
  return HttpResponse{status, "{\"error\":" + json::quote(message) + "}", {}};
}

std::string clip(std::string s, std::size_t n) {
  if (s.size() > n) s.resize(n);
  return s;
}

// A JSON value from the API as a msgpack value: objects become maps, integers stay
// integers, and nesting deeper than `depth_left` is refused.
Result<Value> to_value(const nlohmann::json& j, std::size_t depth_left) {
  using Type = nlohmann::json::value_t;
  switch (j.type()) {
    case Type::null:
      return Value();
    case Type::boolean:
      return Value(j.get<bool>());
    case Type::number_integer:
      return Value(j.get<std::int64_t>());
    case Type::number_unsigned:
      return Value(j.get<std::uint64_t>());
    case Type::number_float:
      return Value(j.get<double>());
    case Type::string:
      return Value(j.get<std::string>());
    case Type::array:
    case Type::object: {
      if (depth_left == 0) {
        return Error(
            ErrorCode::kInvalidArgument,
            "args nest deeper than " + std::to_string(CommandService::kMaxArgsDepth) + " levels");
      }
      if (j.is_array()) {
        protocol::Array out;
        for (const auto& item : j) {
          auto v = to_value(item, depth_left - 1);
          if (!v.ok()) return v.error();
          out.push_back(std::move(*v));
        }
        return Value(std::move(out));
      }
      protocol::Map out;
      for (const auto& [key, item] : j.items()) {
        auto v = to_value(item, depth_left - 1);
        if (!v.ok()) return v.error();
        out.emplace_back(key, std::move(*v));
      }
      return Value(std::move(out));
    }
    default:
      return Error(ErrorCode::kInvalidArgument, "args hold a value JSON cannot carry");
  }
}

// What POST /commands asks for, checked.
struct NewCommand {
  std::string target;
  std::string action;
  protocol::Map args;
  std::optional<std::uint64_t> timeout_s;
};

Result<NewCommand> parse_new_command(const std::string& body) {
  const auto bad = [](const std::string& why) { return Error(ErrorCode::kInvalidArgument, why); };
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return bad("the body is not JSON (or is cut short): send {\"target\": ..., \"action\": ...}");
  }
  if (!j.is_object()) return bad("the body must be a JSON object");
  NewCommand out;
  bool has_target = false;
  bool has_action = false;
  for (const auto& [key, value] : j.items()) {
    if (key == "target" || key == "action") {
      if (!value.is_string()) return bad(key + " must be a string");
      std::string s = value.get<std::string>();
      if (s.empty() || s.size() > wire::kMaxNameBytes) {
        return bad(key + " must be 1.." + std::to_string(wire::kMaxNameBytes) + " bytes");
      }
      (key == "target" ? out.target : out.action) = std::move(s);
      (key == "target" ? has_target : has_action) = true;
    } else if (key == "args") {
      if (!value.is_object()) return bad("args must be a JSON object");
      for (const auto& [name, item] : value.items()) {
        auto v = to_value(item, CommandService::kMaxArgsDepth - 1);
        if (!v.ok()) return v.error();
        out.args.emplace_back(name, std::move(*v));
      }
    } else if (key == "timeout_s") {
      const std::string range = "timeout_s must be a whole number of seconds, 1.." +
                                std::to_string(CommandService::kMaxTimeoutS);
      if (!value.is_number_unsigned()) return bad(range);  // negative, fraction, not a number
      const auto t = value.get<std::uint64_t>();
      if (t < 1 || t > CommandService::kMaxTimeoutS) return bad(range);
      out.timeout_s = t;
    } else {
      return bad("unknown field '" + clip(key, 64) +
                 "' (a command has target, action, args, timeout_s)");
    }
  }
  if (!has_target) return bad("target is required");
  if (!has_action) return bad("action is required");
  return out;
}

std::string opt_json(const std::optional<std::string>& raw) {
  return raw ? *raw : "null";
}

std::string record_json(const CommandRecord& r) {
  const CommandOutcome& o = r.outcome;
  const bool done = o.status != kCommandPending;
  std::string out =
      "{\"id\":" + json::quote(r.id) + ",\"device\":" + json::quote(r.device) +
      ",\"target\":" + json::quote(r.target) + ",\"action\":" + json::quote(r.action) +
      ",\"args\":" + r.args_json +
      ",\"timeout_s\":" + (r.timeout_s ? std::to_string(*r.timeout_s) : std::string("null")) +
      ",\"user\":" + json::quote(r.user) + ",\"created\":" + std::to_string(r.created_ms) +
      ",\"status\":" + json::quote(o.status) + ",\"ret\":" + opt_json(o.ret_json) +
      ",\"err\":" + (o.err ? json::quote(*o.err) : std::string("null")) +
      ",\"ts\":" + (done ? std::to_string(o.device_ts) : std::string("null")) +
      ",\"finished\":" + (done ? std::to_string(o.finished_ms) : std::string("null"));
  return out + "}";
}

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

}  // namespace

CommandService::CommandService(ServiceContext context)
    : context_(context), self_(std::make_shared<CommandService*>(this)) {
  auto pending = context_.commands.pending();
  if (!pending.ok()) {
    context_.log.error(
        pending.error().wrap("reading pending commands (they are not sent again)").message());
    return;
  }
  for (CommandRecord& r : *pending) {
    ++pending_per_device_[r.device];
    std::string id = r.id;
    tracked_.emplace(std::move(id), Tracked{std::move(r), true, false, ++next_order_});
  }
}

CommandService::~CommandService() {
  *self_ = nullptr;
}

std::size_t CommandService::pending(const std::string& device_id) const {
  auto it = pending_per_device_.find(device_id);
  return it == pending_per_device_.end() ? 0 : it->second;
}

CommandStore::Committed CommandService::on_loop(
    std::function<void(CommandService&, const Status&)> then) {
  // The completion runs on the store's writer thread: hop to the loop.
  LoopInbox& inbox = context_.inbox;
  std::weak_ptr<CommandService*> self = self_;
  return [&inbox, self, then = std::move(then)](const Status& status) {
    inbox.post([self, then, status] {
      if (auto alive = self.lock(); alive && *alive) then(**alive, status);
    });
  };
}

// ------------------------------------------------------------------ device side

void CommandService::on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  if (msg.hdr.typ == wire::kResult) {
    on_result(device_id, msg);
  } else if (msg.hdr.typ == wire::kTargets) {
    on_targets(device_id, msg);
  } else {
    refuse(device_id, msg,
           Error(ErrorCode::kProtocol, "unknown command typ '" + clip(msg.hdr.typ, 64) + "'"));
  }
}

void CommandService::on_device_online(const std::string& device_id) {
  targets_[device_id].online = true;
  if (!reconcile(device_id)) {
    context_.log.error("reading the pending commands of " + device_id +
                       " failed; only those made on this instance are sent again");
  }
  std::vector<const Tracked*> waiting;
  for (const auto& [id, tracked] : tracked_) {
    if (tracked.record.device == device_id && tracked.stored && !tracked.finishing) {
      waiting.push_back(&tracked);
    }
  }
  std::sort(waiting.begin(), waiting.end(), [](const Tracked* a, const Tracked* b) {
    // Rows made on other instances are tracked here later than they were made.
    if (a->record.created_ms != b->record.created_ms) {
      return a->record.created_ms < b->record.created_ms;
    }
    return a->order < b->order;
  });
  for (const Tracked* tracked : waiting) send_request(*tracked);
}

bool CommandService::reconcile(const std::string& device_id) {
  auto rows = context_.commands.pending_of(device_id);
  if (!rows.ok()) {
    context_.log.error(rows.error().wrap("reading the pending commands of " + device_id).message());
    return false;
  }
  std::set<std::string, std::less<>> pending_ids;
  for (const CommandRecord& r : *rows) pending_ids.insert(r.id);
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    const Tracked& t = it->second;
    // Only committed rows the store no longer lists as pending: finished elsewhere.
    const bool gone = t.record.device == device_id && t.stored && !t.finishing &&
                      !pending_ids.contains(it->first);
    auto next = std::next(it);
    if (gone) forget(it);
    it = next;
  }
  for (CommandRecord& r : *rows) {
    if (tracked_.contains(r.id)) continue;
    ++pending_per_device_[device_id];
    std::string id = r.id;
    tracked_.emplace(std::move(id), Tracked{std::move(r), true, false, ++next_order_});
  }
  return true;
}

void CommandService::forget_if_finished(const CommandRecord& stored) {
  if (stored.outcome.status == kCommandPending) return;
  auto it = tracked_.find(stored.id);
  if (it == tracked_.end() || it->second.record.device != stored.device) return;
  if (!it->second.stored || it->second.finishing) return;  // this instance's commit decides
  forget(it);
}

void CommandService::forget(std::map<std::string, Tracked, std::less<>>::iterator it) {
  auto count = pending_per_device_.find(it->second.record.device);
  if (count != pending_per_device_.end() && --count->second == 0) pending_per_device_.erase(count);
  tracked_.erase(it);
}

void CommandService::on_device_offline(const std::string& device_id) {
  auto it = targets_.find(device_id);
  if (it != targets_.end()) it->second.online = false;
}

void CommandService::on_targets(const std::string& device_id, const protocol::ProtoMsg& msg) {
  auto targets = wire::Targets::decode(msg.body);
  if (!targets.ok()) {
    refuse(device_id, msg, targets.error());
    return;
  }
  DeviceTargets& kept = targets_[device_id];
  kept.targets.clear();
  for (std::string& t : targets->targets) {
    if (t.empty() || t.size() > kMaxTargetBytes) continue;
    if (kept.targets.size() == kMaxTargets) {
      context_.log.info("device " + device_id + " lists more than " + std::to_string(kMaxTargets) +
                        " command targets; the rest are not kept");
      break;
    }
    kept.targets.push_back(std::move(t));
  }
  kept.at_ms = now_ms();
  kept.online = true;
}

void CommandService::on_result(const std::string& device_id, const protocol::ProtoMsg& msg) {
  auto result = wire::ResultBody::decode(msg.body);
  if (!result.ok()) {
    // Not acked: the device sends it again after its next connect.
    refuse(device_id, msg, result.error());
    return;
  }
  if (result->id.empty() || result->id.size() > wire::kMaxIdBytes) {
    // An `invalid` for a request whose id the device could not read: nothing to
    // match it to, and nothing to ack.
    context_.log.info("device " + device_id + " reports a command result without a usable id: " +
                      result->status + " " + clip(result->err.value_or(""), 256));
    return;
  }
  CommandOutcome outcome;
  outcome.status = result->status;
  outcome.device_ts = result->ts;
  outcome.finished_ms = now_ms();
  if (result->err) outcome.err = clip(*result->err, kMaxErrBytes);
  if (result->ret) {
    std::string ret = map_json(*result->ret);
    if (ret.size() <= kMaxRetJson) {
      outcome.ret_json = std::move(ret);
    } else {
      outcome.err = outcome.err.value_or("") + (outcome.err ? "; " : "") +
                    "the hub did not keep ret (" + std::to_string(ret.size()) +
                    " bytes of JSON, over " + std::to_string(kMaxRetJson) + ")";
    }
  }
  const std::string id = result->id;

  auto it = tracked_.find(id);
  if (it == tracked_.end() || it->second.record.device != device_id) {
    auto stored = context_.commands.get(device_id, id);
    if (!stored.ok()) {
      context_.log.error(stored.error().wrap("looking up command " + id).message());
      return;  // not acked: it comes again after a reconnect
    }
    if (!stored->has_value()) {
      keep_orphan(device_id, id, std::move(outcome));
      return;
    }
    if ((*stored)->outcome.status != kCommandPending) {
      send_ack(device_id, id);  // finished before: acked again, not recorded twice
      return;
    }
    // Pending in the store but not tracked (reading the pending rows at start
    // failed): it is finished now like any other.
    if (it != tracked_.end()) return;  // the id is another device's; ids are unique
    ++pending_per_device_[device_id];
    it = tracked_.emplace(id, Tracked{std::move(**stored), true, false, ++next_order_}).first;
  }
  Tracked& t = it->second;
  // A repeat while the first one's commit is in flight: that commit's ack covers it.
  if (t.finishing) return;
  t.finishing = true;
  t.record.outcome = outcome;
  context_.commands.finish(device_id, id, std::move(outcome),
                           on_loop([device_id, id](CommandService& self, const Status& status) {
                             self.finished(device_id, id, status);
                           }));
}

void CommandService::keep_orphan(const std::string& device_id, const std::string& id,
                                 CommandOutcome outcome) {
  // An id the hub has no request for: keep the outcome anyway, then ack it.
  context_.log.info("device " + device_id + " reports a result for unknown command " +
                    clip(id, 64) + "; stored without its request");
  CommandRecord orphan;
  orphan.id = id;
  orphan.device = device_id;
  orphan.created_ms = outcome.finished_ms;
  orphan.outcome = std::move(outcome);
  context_.commands.add(
      std::move(orphan), on_loop([device_id, id](CommandService& self, const Status& status) {
        if (status.ok()) {
          self.send_ack(device_id, id);
        } else {
          self.context_.log.error(status.error().wrap("storing result " + id).message());
        }
      }));
}

void CommandService::added(const std::string& id, const Status& status) {
  auto it = tracked_.find(id);
  if (it == tracked_.end()) return;
  Tracked& t = it->second;
  if (!status.ok()) {
    // Never sent: the hub could not remember it.
    context_.log.error(status.error().wrap("storing command " + id).message());
    CommandRecord failed = std::move(t.record);
    failed.outcome.status = "failed";
    failed.outcome.err = "not sent: the hub could not store the request";
    failed.outcome.finished_ms = now_ms();
    auto count = pending_per_device_.find(failed.device);
    if (count != pending_per_device_.end() && --count->second == 0) {
      pending_per_device_.erase(count);
    }
    tracked_.erase(it);
    failed_.push_back(std::move(failed));
    if (failed_.size() > kMaxFailed) failed_.pop_front();
    return;
  }
  t.stored = true;
  if (!t.finishing) send_request(t);
}

void CommandService::finished(const std::string& device_id, const std::string& id,
                              const Status& status) {
  auto it = tracked_.find(id);
  if (it == tracked_.end()) return;
  if (!status.ok()) {
    // Not acked: the device keeps the result and sends it again after a reconnect.
    context_.log.error(status.error().wrap("storing the result of command " + id).message());
    it->second.finishing = false;
    it->second.record.outcome = CommandOutcome{kCommandPending, std::nullopt, std::nullopt, 0, 0};
    return;
  }
  tracked_.erase(it);
  auto count = pending_per_device_.find(device_id);
  if (count != pending_per_device_.end() && --count->second == 0) pending_per_device_.erase(count);
  send_ack(device_id, id);
}

void CommandService::send_request(const Tracked& tracked) {
  const CommandRecord& r = tracked.record;
  if (!context_.devices.online(r.device)) return;  // sent when it connects
  auto sent = context_.devices.send(r.device,
                                    protocol::make_msg(proto::kCommand, wire::kRequest, {},
                                                       {{"user_id", Value(r.user)}}, r.request),
                                    true);
  if (!sent.ok()) {
    context_.log.info(sent.error().wrap("sending command " + r.id + " to " + r.device).message() +
                      "; it is sent again when the device connects");
  }
}

void CommandService::send_ack(const std::string& device_id, const std::string& id) {
  // A lost ack is harmless: the device sends the result again and is acked again.
  (void)context_.devices.send(
      device_id, protocol::make_msg(proto::kCommand, wire::kAck, {}, {}, wire::Ack{id}.encode()),
      true);
}

void CommandService::refuse(const std::string& device_id, const protocol::ProtoMsg& msg,
                            const Error& error) {
  context_.log.debug("device " + device_id + ": command " + msg.hdr.typ + ": " + error.message());
  (void)context_.devices.send(
      device_id, control_error("command " + msg.hdr.typ + ": " + error.message(), false, &msg.hdr),
      true);
}

// ------------------------------------------------------------------ JSON API

std::optional<HttpResponse> CommandService::handle(const HttpRequest& request,
                                                   const Caller& caller) {
  constexpr std::string_view kPrefix = "/api/devices/";
  const std::string& path = request.path;
  if (path.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  const std::string rest = path.substr(kPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string device = rest.substr(0, slash);
  const std::string tail = rest.substr(slash);
  constexpr std::string_view kCommands = "/commands";
  constexpr std::string_view kTargets = "/command-targets";
  std::optional<std::string> command_id;
  if (tail == kTargets || tail == kCommands) {
    // one of ours
  } else if (tail.size() > kCommands.size() + 1 &&
             tail.compare(0, kCommands.size() + 1, "/commands/") == 0) {
    command_id = tail.substr(kCommands.size() + 1);
  } else {
    return std::nullopt;
  }

  const bool post = tail == kCommands && request.method == "POST";
  if (!post && request.method != "GET") {
    return error(405, tail == kCommands ? "use GET or POST" : "use GET");
  }
  // Reads need the viewer role, sending needs the operator role.
  const Role needed = post ? Role::kOperator : Role::kViewer;
  if (!caller.may(needed)) return forbidden(needed);

  if (!valid_device_id(device)) return error(404, "no such device");
  auto known = context_.store.get(device);
  if (!known.ok()) {
    context_.log.error(known.error().wrap("looking up device " + device).message());
    return error(500, "internal error");
  }
  if (!known->has_value()) return error(404, "no such device");

  if (post) return post_command(request, caller, device);
  if (tail == kTargets) return get_targets(device);
  if (command_id) return get_command(device, *command_id);
  return get_history(request, device);
}

HttpResponse CommandService::post_command(const HttpRequest& request, const Caller& caller,
                                          const std::string& device) {
  if (request.content_type.rfind("application/json", 0) != 0) {
    return error(415, "send application/json");
  }
  auto parsed = parse_new_command(request.body);
  if (!parsed.ok()) return error(400, parsed.error().message());
  if (!context_.devices.online(device)) {
    return error(409, "device " + device +
                          " is offline; commands are not queued for later, send it again when "
                          "the device is online");
  }
  // Requests may have finished on the instance holding the device's link: ask the
  // store before refusing.
  if (pending(device) >= kMaxPendingPerDevice) (void)reconcile(device);
  if (pending(device) >= kMaxPendingPerDevice) {
    return error(429, "device " + device + " already has " + std::to_string(kMaxPendingPerDevice) +
                          " commands waiting for their result; wait for some to finish");
  }
  auto id = random_hex(16);
  if (!id.ok()) {
    context_.log.error(id.error().wrap("making a command id").message());
    return error(500, "internal error");
  }
  wire::Request req;
  req.id = *id;
  req.target = parsed->target;
  req.action = parsed->action;
  req.args = parsed->args;
  req.timeout_s = parsed->timeout_s;
  protocol::Bytes body = req.encode();
  const std::size_t args_bytes = protocol::encode_value(Value(parsed->args)).size();
  if (args_bytes > kMaxArgsBytes) {
    return error(400, "args are " + std::to_string(args_bytes) + " bytes as msgpack, over " +
                          std::to_string(kMaxArgsBytes));
  }

  CommandRecord record;
  record.id = *id;
  record.device = device;
  record.target = parsed->target;
  record.action = parsed->action;
  record.args_json = map_json(parsed->args);
  record.timeout_s = parsed->timeout_s;
  record.request = std::move(body);
  record.user = caller.user;
  record.created_ms = now_ms();

  ++pending_per_device_[device];
  tracked_.emplace(*id, Tracked{record, false, false, ++next_order_});
  const std::string cid = *id;
  context_.commands.add(
      std::move(record),
      on_loop([cid](CommandService& self, const Status& status) { self.added(cid, status); }));
  return HttpResponse{202, "{\"id\":" + json::quote(cid) + ",\"status\":\"pending\"}", {}};
}

HttpResponse CommandService::get_command(const std::string& device, const std::string& id) {
  if (id.empty() || id.size() > wire::kMaxIdBytes) return error(404, "no such command");
  // Tracked requests show as pending until their outcome is committed.
  if (auto it = tracked_.find(id); it != tracked_.end() && it->second.record.device == device) {
    if (it->second.stored && !it->second.finishing) {
      // Another instance may have finished it: the committed row tells.
      auto stored = context_.commands.get(device, id);
      if (stored.ok() && stored->has_value() && (*stored)->outcome.status != kCommandPending) {
        forget_if_finished(**stored);
        return HttpResponse{200, record_json(**stored), {}};
      }
    }
    CommandRecord shown = it->second.record;
    shown.outcome = CommandOutcome{kCommandPending, std::nullopt, std::nullopt, 0, 0};
    return HttpResponse{200, record_json(shown), {}};
  }
  for (const CommandRecord& f : failed_) {
    if (f.id == id && f.device == device) return HttpResponse{200, record_json(f), {}};
  }
  auto stored = context_.commands.get(device, id);
  if (!stored.ok()) {
    context_.log.error(stored.error().wrap("reading command " + id).message());
    return error(500, "internal error");
  }
  if (!stored->has_value()) return error(404, "no such command");
  return HttpResponse{200, record_json(**stored), {}};
}

HttpResponse CommandService::get_history(const HttpRequest& request, const std::string& device) {
  const auto limit = int_param(request, "limit", 50);
  if (!limit || *limit < 1) return error(400, "limit must be a whole number >= 1");
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(*limit), kMaxHistory);
  auto rows = context_.commands.history(device, n);
  if (!rows.ok()) {
    context_.log.error(rows.error().wrap("reading the commands of " + device).message());
    return error(500, "internal error");
  }
  // Requests whose pending row is not committed yet come first (they are newest);
  // committed rows whose outcome is in flight still show as pending.
  std::vector<CommandRecord> shown;
  for (const auto& [id, t] : tracked_) {
    if (t.record.device == device && !t.stored) shown.push_back(t.record);
  }
  std::sort(shown.begin(), shown.end(), [](const CommandRecord& a, const CommandRecord& b) {
    return a.created_ms > b.created_ms;
  });
  for (CommandRecord& r : *rows) {
    if (auto it = tracked_.find(r.id); it != tracked_.end() && it->second.finishing) {
      r.outcome = CommandOutcome{kCommandPending, std::nullopt, std::nullopt, 0, 0};
    } else {
      forget_if_finished(r);  // finished on another instance
    }
    shown.push_back(std::move(r));
  }
  if (shown.size() > n) shown.resize(n);
  std::string body = "[";
  for (const CommandRecord& r : shown) {
    if (body.size() > 1) body += ",";
    body += record_json(r);
  }
  return HttpResponse{200, body + "]", {}};
}

HttpResponse CommandService::get_targets(const std::string& device) {
  std::string body = "{\"device\":" + json::quote(device) +
                     ",\"online\":" + (context_.devices.online(device) ? "true" : "false") +
                     ",\"targets\":";
  auto it = targets_.find(device);
  if (it == targets_.end() || it->second.at_ms == 0) {
    return HttpResponse{200, body + "[],\"at\":null}", {}};
  }
  std::string list = "[";
  for (const std::string& t : it->second.targets) {
    if (list.size() > 1) list += ",";
    list += json::quote(t);
  }
  return HttpResponse{200, body + list + "],\"at\":" + std::to_string(it->second.at_ms) + "}", {}};
}

}  // namespace tether::hub
