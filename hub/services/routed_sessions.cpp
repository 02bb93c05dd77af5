#include "hub/services/routed_sessions.hpp"

#include "hub/devices/device_side.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/control_messages.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/shell.hpp"

namespace tether::hub {

namespace {

namespace proto = protocol::proto;
namespace control = protocol::control;

protocol::ProtoMsg control_close(const std::string& sid) {
  return protocol::make_msg(proto::kControl, control::kClose, sid);
}

}  // namespace

void RoutedSessions::on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  if (msg.hdr.proto == proto::kControl) {
    device_control(device_id, msg);
    return;
  }
  if (!context_.operators.to_owner(device_id, msg, true, false)) {
    context_.log.debug("device " + device_id + ": dropping proto " + std::to_string(msg.hdr.proto) +
                       " for unowned session");
  }
}

void RoutedSessions::device_control(const std::string& device_id, protocol::ProtoMsg& msg) {
  const std::string& t = msg.hdr.typ;
  if (t == control::kPing) {
    (void)context_.devices.send(device_id, control_pong(msg.hdr.sid), true);
    return;
  }
  if (t == control::kPong) return;
  if (t != control::kAccept && t != control::kClose && t != control::kError) {
    (void)context_.devices.send(
        device_id, control_error("unknown control typ '" + t + "'", false, &msg.hdr), true);
    return;
  }
  if (msg.hdr.sid.empty()) {
    if (t == control::kError) context_.log.info("device " + device_id + " reported an error");
    return;
  }
  bool ends = t == control::kClose;
  if (t == control::kError) {
    if (auto error = protocol::ControlError::decode(msg.body); error.ok()) ends = error->close;
  }
  context_.operators.to_owner(device_id, msg, true, ends);
}

bool RoutedSessions::on_operator_message(OperatorId op, protocol::ProtoMsg& msg) {
  if (msg.hdr.proto == proto::kControl) {
    operator_control(op, msg);
  } else if (context_.operators.owns(op, msg.hdr)) {
    audit_request(op, msg);
    context_.operators.to_device(op, msg, false);
  }
  return true;
}

void RoutedSessions::audit_request(OperatorId op, const protocol::ProtoMsg& msg) {
  std::string action;
  if (msg.hdr.proto == proto::kFileTransfer &&
      (msg.hdr.typ == "get_file" || msg.hdr.typ == "put_file")) {
    action = msg.hdr.typ == "get_file" ? "file.get" : "file.put";
  } else if (msg.hdr.proto == proto::kPortForward && msg.hdr.typ == "new") {
    action = "forward.open";
  } else {
    return;
  }
  std::string detail = "sid=" + msg.hdr.sid;
  if (auto body = protocol::decode_value(msg.body); body.ok()) {
    auto text = [&](std::string_view key) -> std::string {
      const protocol::Value* v = body->find(key);
      if (v == nullptr) return {};
      if (const std::string* str = v->as_str()) return str->substr(0, 300);
      if (auto n = v->as_int()) return std::to_string(*n);
      return {};
    };
    if (auto path = text("path"); !path.empty()) detail += " path=" + path;
    if (auto size = text("size"); !size.empty()) detail += " size=" + size;
    if (auto host = text("remote_host"); !host.empty()) {
      detail += " to=" + host + ":" + text("remote_port");
    }
  }
  const std::string* user = context_.operators.user_of(op);
  const std::string* device = context_.operators.device_of(op);
  context_.audit.record({user ? *user : std::string(),
                         action,
                         device ? *device : std::string(),
                         "ok",
                         detail,
                         {},
                         0});
}

void RoutedSessions::operator_control(OperatorId op, protocol::ProtoMsg& msg) {
  const std::string& t = msg.hdr.typ;
  if (t == control::kPing) {
    context_.operators.send(op, control_pong(msg.hdr.sid), true);
  } else if (t == control::kPong) {
  } else if (t == control::kOpen) {
    const std::string* user = context_.operators.user_of(op);
    const std::string* device = context_.operators.device_of(op);
    switch (context_.operators.claim(op, msg, *this)) {
      case Claim::kClaimed:
        context_.audit.record({user ? *user : std::string(),
                               "session.open",
                               device ? *device : std::string(),
                               "ok",
                               "sid=" + msg.hdr.sid,
                               {},
                               0});
        context_.operators.to_device(op, msg, true);
        break;
      case Claim::kAlreadyOwned:
        context_.operators.to_device(op, msg, true);
        break;
      case Claim::kTooMany:
        context_.audit.record({user ? *user : std::string(),
                               "session.open",
                               device ? *device : std::string(),
                               "refused",
                               "too many sessions",
                               {},
                               0});
        context_.operators.send_error(op, "too many sessions", true, &msg.hdr);
        break;
      case Claim::kRefused:
        break;
    }
  } else if (t == control::kClose || t == control::kError) {
    if (!context_.operators.owns(op, msg.hdr)) return;
    context_.operators.to_device(op, msg, true);
    if (t == control::kClose) {
      if (const std::string* device = context_.operators.device_of(op)) {
        context_.operators.forget(*device, msg.hdr.sid);
      }
    }
  } else {
    context_.operators.send_error(op, "unknown control typ '" + t + "'", false, &msg.hdr);
  }
}

void RoutedSessions::on_session_abandoned(const std::string& device_id, const std::string& user,
                                          const std::string& sid) {
  protocol::ProtoMsg close = control_close(sid);
  protocol::set(close.hdr.props, std::string(protocol::shell::prop::kUserId), user);
  (void)context_.devices.send(device_id, close, true);
}

void RoutedSessions::on_session_lost(OperatorId op, const std::string& sid,
                                     const std::string& why) {
  // An error that closes, not a bare `close`: the device did not end the session,
  // and the operator's tool (CLI, Files tab) shows this reason for it.
  protocol::ProtoMsg ended = control_error(why, true, nullptr);
  ended.hdr.sid = sid;
  context_.operators.send(op, ended, true);
}

}  // namespace tether::hub
