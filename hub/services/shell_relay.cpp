#include "hub/services/shell_relay.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "hub/devices/device_side.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/control_messages.hpp"
#include "protocol/shell.hpp"

namespace tether::hub {

namespace {

namespace proto = protocol::proto;
namespace typ = protocol::shell::typ;
namespace prop = protocol::shell::prop;
namespace shell_status = protocol::shell::status;

constexpr std::size_t kMaxRememberedOrphans = 64;

protocol::ProtoMsg shell_msg(std::string_view type, const std::string& sid,
                             protocol::Map props = {}, std::string_view text = {}) {
  return protocol::make_msg(proto::kShell, std::string(type), sid, std::move(props),
                            protocol::Bytes(text.begin(), text.end()));
}

}  // namespace

void ShellRelay::on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  const std::string& t = msg.hdr.typ;
  if (t == typ::kPing) {
    (void)context_.devices.send(device_id, shell_msg(typ::kPong, msg.hdr.sid), true);
    return;
  }
  if (t != typ::kNew && t != typ::kShell && t != typ::kStop) {
    (void)context_.devices.send(
        device_id, control_error("unknown shell typ '" + t + "'", false, &msg.hdr), true);
    return;
  }
  // A `new` answered with any status but "normal" means the shell did not start.
  const bool ends =
      t == typ::kStop ||
      (t == typ::kNew &&
       msg.hdr.prop_int(prop::kStatus).value_or(shell_status::kNormal) != shell_status::kNormal);
  if (!context_.operators.has_owner(device_id, msg.hdr.sid)) {
    if (t != typ::kStop) stop_orphan(device_id, msg.hdr.sid);
    return;
  }
  if (t == typ::kNew) {
    auto tracked = shells_.find({device_id, msg.hdr.sid});
    if (tracked != shells_.end()) {
      if (ends) {
        context_.audit.record({tracked->second.user,
                               "shell.open",
                               device_id,
                               "failed",
                               "sid=" + msg.hdr.sid + " " +
                                   std::string(msg.body.begin(), msg.body.end()).substr(0, 200),
                               {},
                               0});
        shells_.erase(tracked);
      } else {
        context_.audit.record(
            {tracked->second.user, "shell.open", device_id, "ok", "sid=" + msg.hdr.sid, {}, 0});
      }
    }
  } else if (t == typ::kStop) {
    std::string detail;
    if (auto code = msg.hdr.prop_int(prop::kExitCode)) {
      detail = "exit_code=" + std::to_string(*code);
    }
    audit_close(device_id, msg.hdr.sid, "ok", detail);
  }
  // Terminal output is bulk; everything else goes ahead of it.
  context_.operators.to_owner(device_id, msg, t != typ::kShell, ends);
}

bool ShellRelay::on_operator_message(OperatorId op, protocol::ProtoMsg& msg) {
  const std::string& t = msg.hdr.typ;
  if (t == typ::kNew) {
    switch (context_.operators.claim(op, msg, *this)) {
      case Claim::kClaimed:
        if (const std::string* device = context_.operators.device_of(op)) {
          const std::string* user = context_.operators.user_of(op);
          shells_[{*device, msg.hdr.sid}] =
              TrackedShell{user ? *user : std::string(), std::chrono::steady_clock::now()};
        }
        context_.operators.to_device(op, msg, true);
        break;
      case Claim::kAlreadyOwned:
        context_.operators.to_device(op, msg, true);
        break;
      case Claim::kTooMany:
        if (const std::string* device = context_.operators.device_of(op)) {
          const std::string* user = context_.operators.user_of(op);
          context_.audit.record({user ? *user : std::string(),
                                 "shell.open",
                                 *device,
                                 "refused",
                                 "too many sessions",
                                 {},
                                 0});
        }
        context_.operators.send(
            op,
            shell_msg(typ::kNew, msg.hdr.sid, {{std::string(prop::kStatus), shell_status::kError}},
                      "too many sessions"),
            true);
        break;
      case Claim::kRefused:
        break;
    }
    return true;
  }
  if (t == typ::kStop && msg.hdr.sid.empty()) {
    for (const auto& sid : context_.operators.sessions_of(op, *this)) {
      protocol::ProtoMsg stop = shell_msg(typ::kStop, sid);
      context_.operators.to_device(op, stop, true);
    }
    return true;
  }
  if (t != typ::kShell && t != typ::kResize && t != typ::kStop && t != typ::kPong) {
    context_.operators.send_error(op, "unknown shell typ '" + t + "'", false, &msg.hdr);
    return true;
  }
  if (context_.operators.owns(op, msg.hdr)) context_.operators.to_device(op, msg, t != typ::kShell);
  return true;
}

void ShellRelay::on_device_offline(const std::string& device_id) {
  stopped_orphans_.erase(device_id);
  std::erase_if(shells_, [&](const auto& kv) { return kv.first.first == device_id; });
}

void ShellRelay::audit_close(const std::string& device_id, const std::string& sid,
                             const std::string& outcome, const std::string& detail) {
  auto tracked = shells_.find({device_id, sid});
  if (tracked == shells_.end()) return;
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - tracked->second.started)
          .count();
  char duration[32];
  std::snprintf(duration, sizeof duration, "duration_s=%.1f", seconds);
  std::string text = "sid=" + sid + " " + duration;
  if (!detail.empty()) text += " " + detail;
  context_.audit.record({tracked->second.user, "shell.close", device_id, outcome, text, {}, 0});
  shells_.erase(tracked);
}

void ShellRelay::on_session_abandoned(const std::string& device_id, const std::string& user,
                                      const std::string& sid) {
  audit_close(device_id, sid, "ok", "operator left");
  (void)context_.devices.send(
      device_id, shell_msg(typ::kStop, sid, {{std::string(prop::kUserId), user}}), true);
}

void ShellRelay::on_session_lost(OperatorId op, const std::string& sid, const std::string& why) {
  if (const std::string* device = context_.operators.device_of(op)) {
    audit_close(*device, sid, "failed", "device gone: " + why);
  }
  context_.operators.send(
      op, shell_msg(typ::kStop, sid, {{std::string(prop::kStatus), shell_status::kError}}, why),
      true);
}

void ShellRelay::stop_orphan(const std::string& device_id, const std::string& sid) {
  auto& stopped = stopped_orphans_[device_id];
  if (std::find(stopped.begin(), stopped.end(), sid) != stopped.end()) return;
  if (stopped.size() >= kMaxRememberedOrphans) stopped.pop_front();
  stopped.push_back(sid);
  (void)context_.devices.send(device_id, shell_msg(typ::kStop, sid), true);
}

}  // namespace tether::hub
