#include "hub/services/routed_sessions.hpp"

#include "hub/devices/device_side.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/control_messages.hpp"
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
    context_.operators.to_device(op, msg, false);
  }
  return true;
}

void RoutedSessions::operator_control(OperatorId op, protocol::ProtoMsg& msg) {
  const std::string& t = msg.hdr.typ;
  if (t == control::kPing) {
    context_.operators.send(op, control_pong(msg.hdr.sid), true);
  } else if (t == control::kPong) {
  } else if (t == control::kOpen) {
    switch (context_.operators.claim(op, msg, *this)) {
      case Claim::kClaimed:
      case Claim::kAlreadyOwned:
        context_.operators.to_device(op, msg, true);
        break;
      case Claim::kTooMany:
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
                                     const std::string& /*why*/) {
  context_.operators.send(op, control_close(sid), true);
}

}  // namespace tether::hub
