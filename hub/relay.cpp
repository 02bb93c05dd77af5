#include "hub/relay.hpp"

#include <chrono>
#include <utility>
#include <vector>

#include "hub/auth.hpp"
#include "protocol/codec.hpp"

namespace tether::hub {

namespace proto = protocol::proto;
using protocol::Bytes;
using protocol::Map;
using protocol::ProtoMsg;

namespace {

constexpr std::size_t kMaxRememberedOrphans = 64;

Bytes text_body(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

ProtoMsg shell_stop(const std::string& sid, int status, std::string_view reason) {
  Map props;
  if (status != 0) props.emplace_back("status", status);
  return protocol::make_msg(proto::kShell, "stop", sid, std::move(props), text_body(reason));
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Relay::send_error(Link& link, const std::string& err, bool close,
                       const protocol::ProtoHdr* about) {
  Map body{{"err", err}, {"close", close}};
  std::string sid;
  if (about) {
    body.emplace_back("msgproto", static_cast<int>(about->proto));
    if (!about->typ.empty()) body.emplace_back("msgtype", about->typ);
    sid = about->sid;
  }
  link.send(protocol::encode(protocol::make_msg(proto::kControl, "error", sid, {},
                                                protocol::encode_value(protocol::Value(body)))),
            true);
}

// ---------------------------------------------------------------- devices

void Relay::device_connected(ConnId conn, const std::string& device_id, Link& link) {
  if (auto it = by_device_.find(device_id); it != by_device_.end()) {
    const ConnId old = it->second;
    auto& old_dev = devices_.at(old);
    log_.info("device " + device_id + ": new connection replaces the old one");
    detach_operators(old, old_dev, "device reconnected");
    old_dev.link->close(close_code::kNormal, "replaced by a newer connection");
    devices_.erase(old);
    by_device_.erase(it);
  }
  DeviceConn dev;
  dev.device_id = device_id;
  dev.link = &link;
  devices_.emplace(conn, std::move(dev));
  by_device_[device_id] = conn;
  if (auto s = store_.touch(device_id, now_ms()); !s.ok()) log_.error(s.error().message());
  log_.info("device " + device_id + " connected");
}

void Relay::device_closed(ConnId conn) {
  auto it = devices_.find(conn);
  if (it == devices_.end()) return;
  DeviceConn& dev = it->second;
  log_.info("device " + dev.device_id + " disconnected");
  detach_operators(conn, dev, "device disconnected");
  if (auto s = store_.touch(dev.device_id, now_ms()); !s.ok()) log_.error(s.error().message());
  by_device_.erase(dev.device_id);
  devices_.erase(it);
}

void Relay::detach_operators(ConnId /*device_conn*/, DeviceConn& dev, const std::string& why) {
  for (ConnId op_id : dev.operators) {
    auto it = operators_.find(op_id);
    if (it == operators_.end()) continue;
    OperatorConn& op = it->second;
    for (const auto& [sid, kind] : op.sessions) {
      if (kind == SessionKind::kShell) {
        op.link->send(protocol::encode(shell_stop(sid, 2, why)), true);
      } else {
        op.link->send(protocol::encode(protocol::make_msg(proto::kControl, "close", sid)), true);
      }
    }
    send_error(*op.link, why, true, nullptr);
    op.link->close(close_code::kGoingAway, why);
    operators_.erase(it);
  }
  dev.operators.clear();
  dev.sid_owner.clear();
  dev.slow_operators.clear();
}

void Relay::device_message(ConnId conn, std::span<const std::uint8_t> data) {
  auto it = devices_.find(conn);
  if (it == devices_.end()) return;
  DeviceConn& dev = it->second;
  auto decoded = protocol::decode(data);
  if (!decoded.ok()) {
    log_.debug("device " + dev.device_id + ": malformed message: " + decoded.error().message());
    send_error(*dev.link, "malformed message: " + decoded.error().message(), false, nullptr);
    return;
  }
  ProtoMsg& msg = *decoded;
  switch (msg.hdr.proto) {
    case proto::kControl:
      device_control(dev, msg);
      return;
    case proto::kShell:
      device_shell(dev, msg);
      return;
    case proto::kFileTransfer:
    case proto::kPortForward:
      device_routed(dev, msg);
      return;
    case proto::kMonitoring:
      device_monitoring(dev, msg);
      return;
    case proto::kClient:
    case proto::kConfig:
    case proto::kUpdate:
    case proto::kCommand:
      // Known protocols the reference hub has no panel for yet.
      log_.debug("device " + dev.device_id + ": ignoring proto " + std::to_string(msg.hdr.proto) +
                 " " + msg.hdr.typ);
      return;
    default:
      send_error(*dev.link, "unknown proto " + std::to_string(msg.hdr.proto), false, &msg.hdr);
  }
}

void Relay::device_control(DeviceConn& dev, ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == "ping") {
    dev.link->send(protocol::encode(protocol::make_msg(proto::kControl, "pong", msg.hdr.sid)),
                   true);
  } else if (typ == "pong") {
  } else if (typ == "accept" || typ == "close" || typ == "error") {
    if (msg.hdr.sid.empty()) {
      if (typ == "error") log_.info("device " + dev.device_id + " reported an error");
      return;
    }
    bool forget = typ == "close";
    if (typ == "error") {
      if (auto body = protocol::decode_value(msg.body); body.ok()) {
        if (const auto* c = body->find("close")) forget = c->as_bool().value_or(false);
      }
    }
    to_owner(dev, msg, forget);
  } else {
    send_error(*dev.link, "unknown control typ '" + typ + "'", false, &msg.hdr);
  }
}

void Relay::device_shell(DeviceConn& dev, ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == "ping") {
    dev.link->send(protocol::encode(protocol::make_msg(proto::kShell, "pong", msg.hdr.sid)), true);
    return;
  }
  if (typ != "new" && typ != "shell" && typ != "stop") {
    send_error(*dev.link, "unknown shell typ '" + typ + "'", false, &msg.hdr);
    return;
  }
  const bool ends = typ == "stop" || (typ == "new" && msg.hdr.prop_int("status").value_or(1) != 1);
  if (dev.sid_owner.find(msg.hdr.sid) == dev.sid_owner.end()) {
    if (typ != "stop") stop_orphan(dev, msg.hdr.sid);
    return;
  }
  to_owner(dev, msg, ends);
}

void Relay::device_routed(DeviceConn& dev, ProtoMsg& msg) {
  if (dev.sid_owner.find(msg.hdr.sid) == dev.sid_owner.end()) {
    log_.debug("device " + dev.device_id + ": dropping proto " + std::to_string(msg.hdr.proto) +
               " for unowned session");
    return;
  }
  to_owner(dev, msg, false);
}

void Relay::stop_orphan(DeviceConn& dev, const std::string& sid) {
  for (const auto& s : dev.stopped_orphans) {
    if (s == sid) return;
  }
  if (dev.stopped_orphans.size() >= kMaxRememberedOrphans) dev.stopped_orphans.pop_front();
  dev.stopped_orphans.push_back(sid);
  dev.link->send(protocol::encode(protocol::make_msg(proto::kShell, "stop", sid)), true);
}

void Relay::to_owner(DeviceConn& dev, const ProtoMsg& msg, bool forget_sid) {
  auto owner = dev.sid_owner.find(msg.hdr.sid);
  if (owner == dev.sid_owner.end()) return;
  const ConnId op_id = owner->second;
  auto op = operators_.find(op_id);
  if (op == operators_.end()) {
    dev.sid_owner.erase(owner);
    return;
  }
  to_operator(op_id, op->second, msg);
  if (forget_sid) forget(dev, op->second, msg.hdr.sid);
}

void Relay::device_monitoring(DeviceConn& dev, const ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  auto body = protocol::decode_value(msg.body);
  if (typ == "status") {
    if (!body.ok() || !body->is_map()) {
      send_error(*dev.link, "monitoring status: body is not a map", false, &msg.hdr);
      return;
    }
    StatusUpdate st;
    auto str = [&](const char* key) -> std::string {
      const auto* v = body->find(key);
      const std::string* s = v ? v->as_str() : nullptr;
      return s ? s->substr(0, 256) : std::string();
    };
    st.version = str("version");
    st.state = str("state");
    st.boot_id = str("boot_id");
    if (const auto* u = body->find("uptime_s")) {
      if (auto v = u->as_int(); v && *v >= 0) st.uptime_s = *v;
    }
    const std::string reported = str("device_id");
    if (!reported.empty() && reported != dev.device_id) {
      log_.info("device " + dev.device_id + " reports device_id " + reported);
    }
    if (auto s = store_.record_status(dev.device_id, st, now_ms()); !s.ok()) {
      log_.error(s.error().wrap("device " + dev.device_id).message());
    }
    return;
  }
  if (typ == "data" || typ == "alert" || typ == "dropped") {
    // Records are acknowledged (the reference hub does not keep them yet), so the
    // device's outbox drains. ack is cumulative and records arrive in seq order.
    if (!body.ok() || !body->is_map()) {
      send_error(*dev.link, "monitoring " + typ + ": body is not a map", false, &msg.hdr);
      return;
    }
    const auto* seq = body->find("seq");
    if (!seq || !seq->as_uint()) {
      send_error(*dev.link, "monitoring " + typ + ": no seq", false, &msg.hdr);
      return;
    }
    Map ack{{"seq", protocol::Value(*seq->as_uint())}};
    dev.link->send(protocol::encode(
                       protocol::make_msg(proto::kMonitoring, "ack", {}, {},
                                          protocol::encode_value(protocol::Value(std::move(ack))))),
                   true);
    return;
  }
  send_error(*dev.link, "unknown monitoring typ '" + typ + "'", false, &msg.hdr);
}

// ---------------------------------------------------------------- operators

AttachCheck Relay::check_attach(const std::string& device_id) const {
  auto it = by_device_.find(device_id);
  if (it == by_device_.end()) return AttachCheck::kOffline;  // caller tells unknown apart
  if (devices_.at(it->second).operators.size() >= limits_.operators_per_device) {
    return AttachCheck::kTooManyOperators;
  }
  return AttachCheck::kOk;
}

std::size_t Relay::operators_of(const std::string& device_id) const {
  auto it = by_device_.find(device_id);
  return it == by_device_.end() ? 0 : devices_.at(it->second).operators.size();
}

void Relay::operator_connected(ConnId conn, const std::string& device_id, const std::string& user,
                               Link& link) {
  auto it = by_device_.find(device_id);
  if (it == by_device_.end()) {
    send_error(link, "device offline", true, nullptr);
    link.close(close_code::kGoingAway, "device offline");
    return;
  }
  DeviceConn& dev = devices_.at(it->second);
  if (dev.operators.size() >= limits_.operators_per_device) {
    send_error(link, "too many operators on this device", true, nullptr);
    link.close(close_code::kPolicy, "too many operators");
    return;
  }
  OperatorConn op;
  op.user = user;
  op.device = it->second;
  op.link = &link;
  operators_.emplace(conn, std::move(op));
  dev.operators.insert(conn);
  log_.info("operator " + user + " attached to device " + device_id);
}

void Relay::operator_closed(ConnId conn) {
  auto it = operators_.find(conn);
  if (it == operators_.end()) return;
  OperatorConn& op = it->second;
  auto dev_it = devices_.find(op.device);
  if (dev_it != devices_.end()) {
    DeviceConn& dev = dev_it->second;
    for (const auto& [sid, kind] : op.sessions) {
      ProtoMsg m = kind == SessionKind::kShell ? protocol::make_msg(proto::kShell, "stop", sid)
                                               : protocol::make_msg(proto::kControl, "close", sid);
      protocol::set(m.hdr.props, "user_id", op.user);
      dev.link->send(protocol::encode(m), true);
      dev.sid_owner.erase(sid);
    }
    dev.operators.erase(conn);
    if (dev.slow_operators.erase(conn) && dev.slow_operators.empty()) {
      dev.link->set_receiving(true);
    }
    log_.info("operator " + op.user + " detached from device " + dev.device_id);
  }
  operators_.erase(it);
}

void Relay::operator_message(ConnId conn, std::span<const std::uint8_t> data) {
  auto it = operators_.find(conn);
  if (it == operators_.end()) return;
  OperatorConn& op = it->second;
  auto dev_it = devices_.find(op.device);
  if (dev_it == devices_.end()) return;
  DeviceConn& dev = dev_it->second;

  auto decoded = protocol::decode(data);
  if (!decoded.ok()) {
    send_error(*op.link, "malformed message: " + decoded.error().message(), false, nullptr);
    return;
  }
  ProtoMsg& msg = *decoded;
  switch (msg.hdr.proto) {
    case proto::kControl:
      operator_control(conn, op, dev, msg);
      return;
    case proto::kShell:
      operator_shell(conn, op, dev, msg);
      return;
    case proto::kFileTransfer:
    case proto::kPortForward:
      if (owns(conn, op, msg)) to_device(dev, op, msg, false);
      return;
    case proto::kClient:
    case proto::kConfig:
    case proto::kUpdate:
    case proto::kCommand:
      to_device(dev, op, msg, false);
      return;
    default:
      send_error(*op.link,
                 "proto " + std::to_string(msg.hdr.proto) + " may not be sent to a device", false,
                 &msg.hdr);
  }
}

void Relay::operator_control(ConnId conn, OperatorConn& op, DeviceConn& dev, ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == "ping") {
    op.link->send(protocol::encode(protocol::make_msg(proto::kControl, "pong", msg.hdr.sid)), true);
  } else if (typ == "pong") {
  } else if (typ == "open") {
    if (claim(conn, op, dev, msg, SessionKind::kRouted)) to_device(dev, op, msg, true);
  } else if (typ == "close" || typ == "error") {
    if (!owns(conn, op, msg)) return;
    to_device(dev, op, msg, true);
    if (typ == "close") forget(dev, op, msg.hdr.sid);
  } else {
    send_error(*op.link, "unknown control typ '" + typ + "'", false, &msg.hdr);
  }
}

void Relay::operator_shell(ConnId conn, OperatorConn& op, DeviceConn& dev, ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == "new") {
    if (claim(conn, op, dev, msg, SessionKind::kShell)) to_device(dev, op, msg, true);
    return;
  }
  if (typ == "stop" && msg.hdr.sid.empty()) {
    // "Stop all of my shells": only those of this socket, never another operator's.
    std::vector<std::string> sids;
    for (const auto& [sid, kind] : op.sessions) {
      if (kind == SessionKind::kShell) sids.push_back(sid);
    }
    for (const auto& sid : sids) {
      ProtoMsg m = protocol::make_msg(proto::kShell, "stop", sid);
      to_device(dev, op, m, true);
    }
    return;
  }
  if (typ != "shell" && typ != "resize" && typ != "stop" && typ != "pong") {
    send_error(*op.link, "unknown shell typ '" + typ + "'", false, &msg.hdr);
    return;
  }
  if (!owns(conn, op, msg)) return;
  to_device(dev, op, msg, typ != "shell");
}

bool Relay::claim(ConnId conn, OperatorConn& op, DeviceConn& dev, ProtoMsg& msg, SessionKind kind) {
  if (msg.hdr.sid.empty()) {
    auto sid = random_hex(16);
    if (!sid.ok()) {
      send_error(*op.link, "cannot make a session id", false, &msg.hdr);
      return false;
    }
    msg.hdr.sid = *sid;
  }
  if (msg.hdr.sid.size() > 128) {
    send_error(*op.link, "session id too long", false, &msg.hdr);
    return false;
  }
  auto owner = dev.sid_owner.find(msg.hdr.sid);
  if (owner != dev.sid_owner.end()) {
    if (owner->second == conn) return true;  // the device refuses a second `new` itself
    send_error(*op.link, "session id in use", false, &msg.hdr);
    return false;
  }
  if (op.sessions.size() >= limits_.sessions_per_operator ||
      dev.sid_owner.size() >= limits_.sessions_per_device) {
    if (kind == SessionKind::kShell) {
      Map props{{"status", 2}};
      op.link->send(
          protocol::encode(protocol::make_msg(proto::kShell, "new", msg.hdr.sid, std::move(props),
                                              text_body("too many sessions"))),
          true);
    } else {
      send_error(*op.link, "too many sessions", true, &msg.hdr);
    }
    return false;
  }
  dev.sid_owner.emplace(msg.hdr.sid, conn);
  op.sessions.emplace(msg.hdr.sid, kind);
  return true;
}

bool Relay::owns(ConnId conn, const OperatorConn& op, const ProtoMsg& msg) {
  const auto& sessions = op.sessions;
  if (!msg.hdr.sid.empty() && sessions.find(msg.hdr.sid) != sessions.end()) return true;
  (void)conn;
  send_error(*op.link, "session not found", false, &msg.hdr);
  return false;
}

void Relay::forget(DeviceConn& dev, OperatorConn& op, const std::string& sid) {
  dev.sid_owner.erase(sid);
  op.sessions.erase(sid);
}

void Relay::to_device(DeviceConn& dev, OperatorConn& op, ProtoMsg& msg, bool urgent) {
  if (dev.link->queued_bytes() > limits_.queue_hard_cap) {
    send_error(*op.link, "device is not keeping up; message dropped", false, &msg.hdr);
    return;
  }
  protocol::set(msg.hdr.props, "user_id", op.user);
  dev.link->send(protocol::encode(msg), urgent);
}

void Relay::to_operator(ConnId conn, OperatorConn& op, const ProtoMsg& msg) {
  op.link->send(protocol::encode(msg), msg.hdr.typ != "shell");
  const std::size_t queued = op.link->queued_bytes();
  if (queued > limits_.queue_hard_cap) {
    // Unreachable while flow control works; a last line of defence for memory.
    log_.warn("operator " + op.user + " is not reading; closing its socket");
    op.link->close(close_code::kPolicy, "not reading");
    return;
  }
  if (queued > limits_.queue_high_water) {
    auto dev = devices_.find(op.device);
    if (dev != devices_.end() && dev->second.slow_operators.insert(conn).second &&
        dev->second.slow_operators.size() == 1) {
      dev->second.link->set_receiving(false);
    }
  }
}

void Relay::operator_wrote(ConnId conn) {
  auto it = operators_.find(conn);
  if (it == operators_.end()) return;
  auto dev = devices_.find(it->second.device);
  if (dev == devices_.end()) return;
  if (it->second.link->queued_bytes() > limits_.queue_high_water / 4) return;
  if (dev->second.slow_operators.erase(conn) && dev->second.slow_operators.empty()) {
    dev->second.link->set_receiving(true);
  }
}

}  // namespace tether::hub
