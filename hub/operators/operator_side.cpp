#include "hub/operators/operator_side.hpp"

#include <utility>

#include "hub/auth.hpp"
#include "hub/operators/message_roles.hpp"
#include "hub/services/control_messages.hpp"
#include "protocol/codec.hpp"
#include "protocol/shell.hpp"

namespace tether::hub {

namespace {
constexpr std::size_t kMaxSidLength = 128;

// The protocols whose operator messages the operator side records itself.
const char* audited_family(std::uint16_t proto) {
  switch (proto) {
    case protocol::proto::kConfig:
      return "config";
    case protocol::proto::kUpdate:
      return "update";
    case protocol::proto::kCommand:
      return "command";
    case protocol::proto::kClient:
      return "client";
    default:
      return nullptr;
  }
}
}  // namespace

AttachCheck OperatorSide::check_attach(const std::string& device_id) const {
  if (!devices_.online(device_id)) return AttachCheck::kOffline;
  if (operators_of(device_id) >= limits_.operators_per_device)
    return AttachCheck::kTooManyOperators;
  return AttachCheck::kOk;
}

std::size_t OperatorSide::operators_of(const std::string& device_id) const {
  auto it = devices_state_.find(device_id);
  return it == devices_state_.end() ? 0 : it->second.operators.size();
}

const std::string* OperatorSide::user_of(OperatorId op) const {
  auto it = operators_.find(op);
  return it == operators_.end() ? nullptr : &it->second.user;
}

const std::string* OperatorSide::device_of(OperatorId op) const {
  auto it = operators_.find(op);
  return it == operators_.end() ? nullptr : &it->second.device_id;
}

std::optional<Role> OperatorSide::role_of(OperatorId op) const {
  auto it = operators_.find(op);
  if (it == operators_.end()) return std::nullopt;
  return it->second.role;
}

std::size_t OperatorSide::disconnect_user(const std::string& user, const std::string& why) {
  std::vector<OperatorId> ops;
  for (const auto& [op, o] : operators_) {
    if (o.user == user) ops.push_back(op);
  }
  for (OperatorId op : ops) {
    Link& link = *operators_.at(op).link;
    link.send(protocol::encode(control_error(why, true)), true);
    link.close(close_code::kPolicy, why);
    // Now rather than when the socket's close arrives: its sessions end at once.
    closed(op);
  }
  return ops.size();
}

void OperatorSide::connected(OperatorId op, const std::string& device_id, const std::string& user,
                             Link& link, Role role) {
  auto refuse = [&](const std::string& why, std::uint16_t code, const std::string& reason) {
    link.send(protocol::encode(control_error(why, true)), true);
    link.close(code, reason);
  };
  if (!devices_.online(device_id)) {
    refuse("device offline", close_code::kGoingAway, "device offline");
    return;
  }
  if (operators_of(device_id) >= limits_.operators_per_device) {
    refuse("too many operators on this device", close_code::kPolicy, "too many operators");
    return;
  }
  operators_.emplace(op, Operator{user, device_id, &link, role, {}});
  devices_state_[device_id].operators.insert(op);
  log_.info("operator " + user + " attached to device " + device_id);
}

void OperatorSide::closed(OperatorId op) {
  auto it = operators_.find(op);
  if (it == operators_.end()) return;
  Operator& o = it->second;
  auto dev = devices_state_.find(o.device_id);
  if (dev != devices_state_.end()) {
    Attached& attached = dev->second;
    for (const auto& [sid, owner] : o.sessions) {
      owner->on_session_abandoned(o.device_id, o.user, sid);
      attached.sid_owner.erase(sid);
    }
    attached.operators.erase(op);
    if (attached.slow.erase(op) != 0 && attached.slow.empty()) {
      devices_.set_receiving(o.device_id, true);
    }
    if (attached.operators.empty()) devices_state_.erase(dev);
  }
  log_.info("operator " + o.user + " detached from device " + o.device_id);
  operators_.erase(it);
}

void OperatorSide::device_gone(const std::string& device_id, const std::string& why) {
  auto dev = devices_state_.find(device_id);
  if (dev == devices_state_.end()) return;
  // Out of the table first: what the services send now bypasses flow control of
  // a device that is gone.
  const std::set<OperatorId> attached = std::move(dev->second.operators);
  devices_state_.erase(dev);
  for (OperatorId op : attached) {
    auto it = operators_.find(op);
    if (it == operators_.end()) continue;
    for (const auto& [sid, owner] : it->second.sessions) owner->on_session_lost(op, sid, why);
    Link& link = *it->second.link;
    link.send(protocol::encode(control_error(why, true)), true);
    link.close(close_code::kGoingAway, why);
    operators_.erase(it);
  }
}

void OperatorSide::message(OperatorId op, std::span<const std::uint8_t> data) {
  auto it = operators_.find(op);
  if (it == operators_.end()) return;
  auto decoded = protocol::decode(data);
  if (!decoded.ok()) {
    send_error(op, "malformed message: " + decoded.error().message(), false, nullptr);
    return;
  }
  protocol::ProtoMsg& msg = *decoded;
  const Role needed = role_for_message(msg.hdr.proto, msg.hdr.typ);
  if (it->second.role < needed) {
    const std::string what =
        "proto " + std::to_string(msg.hdr.proto) + " typ '" + msg.hdr.typ + "'";
    audit_.record({it->second.user,
                   "message.denied",
                   it->second.device_id,
                   "denied",
                   what + " needs the " + std::string(role_name(needed)) + " role",
                   {},
                   0});
    send_error(op, "forbidden: " + what + " needs the " + std::string(role_name(needed)) + " role",
               false, &msg.hdr);
    return;
  }
  // Device-changing messages are recorded whichever service handles them (config
  // push, command, update offer and consent, ...); sessions are recorded by their
  // services with more detail.
  const char* family = audited_family(msg.hdr.proto);
  bool handled = false;
  if (family == nullptr) {
    handled = services_.operator_message(op, msg);
  } else {
    // Copied first: the service may close this operator (and its entry) while handling.
    const std::string user = it->second.user;
    const std::string device = it->second.device_id;
    const std::string typ = msg.hdr.typ.substr(0, 64);
    handled = services_.operator_message(op, msg);
    audit_.record({user,
                   std::string(family) + "." + typ,
                   device,
                   handled ? "ok" : "refused",
                   "over the operator WebSocket",
                   {},
                   0});
  }
  if (!handled) {
    send_error(op, "proto " + std::to_string(msg.hdr.proto) + " may not be sent to a device", false,
               &msg.hdr);
  }
}

void OperatorSide::send(OperatorId op, const protocol::ProtoMsg& msg, bool urgent) {
  auto it = operators_.find(op);
  if (it == operators_.end()) return;
  Operator& o = it->second;
  o.link->send(protocol::encode(msg), urgent);
  const std::size_t queued = o.link->queued_bytes();
  if (queued > limits_.queue_hard_cap) {
    // Unreachable while flow control works; a last line of defence for memory.
    log_.warn("operator " + o.user + " is not reading; closing its socket");
    o.link->close(close_code::kPolicy, "not reading");
    return;
  }
  if (queued > limits_.queue_high_water) {
    auto dev = devices_state_.find(o.device_id);
    if (dev != devices_state_.end() && dev->second.slow.insert(op).second &&
        dev->second.slow.size() == 1) {
      devices_.set_receiving(o.device_id, false);
    }
  }
}

void OperatorSide::wrote(OperatorId op) {
  auto it = operators_.find(op);
  if (it == operators_.end()) return;
  auto dev = devices_state_.find(it->second.device_id);
  if (dev == devices_state_.end()) return;
  if (it->second.link->queued_bytes() > limits_.queue_high_water / 4) return;
  if (dev->second.slow.erase(op) != 0 && dev->second.slow.empty()) {
    devices_.set_receiving(it->second.device_id, true);
  }
}

void OperatorSide::send_error(OperatorId op, const std::string& err, bool close,
                              const protocol::ProtoHdr* about) {
  auto it = operators_.find(op);
  if (it == operators_.end()) return;
  it->second.link->send(protocol::encode(control_error(err, close, about)), true);
}

void OperatorSide::to_device(OperatorId op, protocol::ProtoMsg& msg, bool urgent) {
  auto it = operators_.find(op);
  if (it == operators_.end()) return;
  protocol::set(msg.hdr.props, std::string(protocol::shell::prop::kUserId), it->second.user);
  const Status sent = devices_.send(it->second.device_id, msg, urgent);
  if (!sent.ok() && sent.error().code() == ErrorCode::kBusy) {
    send_error(op, "device is not keeping up; message dropped", false, &msg.hdr);
  }
}

bool OperatorSide::to_owner(const std::string& device_id, const protocol::ProtoMsg& msg,
                            bool urgent, bool forget_sid) {
  auto dev = devices_state_.find(device_id);
  if (dev == devices_state_.end()) return false;
  auto owner = dev->second.sid_owner.find(msg.hdr.sid);
  if (owner == dev->second.sid_owner.end()) return false;
  const OperatorId op = owner->second;
  send(op, msg, urgent);
  if (forget_sid) forget(device_id, msg.hdr.sid);
  return true;
}

Claim OperatorSide::claim(OperatorId op, protocol::ProtoMsg& msg, ProtocolService& owner) {
  auto it = operators_.find(op);
  if (it == operators_.end()) return Claim::kRefused;
  Operator& o = it->second;
  Attached& attached = devices_state_[o.device_id];
  if (msg.hdr.sid.empty()) {
    auto sid = random_hex(16);
    if (!sid.ok()) {
      send_error(op, "cannot make a session id", false, &msg.hdr);
      return Claim::kRefused;
    }
    msg.hdr.sid = *sid;
  }
  if (msg.hdr.sid.size() > kMaxSidLength) {
    send_error(op, "session id too long", false, &msg.hdr);
    return Claim::kRefused;
  }
  if (auto current = attached.sid_owner.find(msg.hdr.sid); current != attached.sid_owner.end()) {
    if (current->second == op) return Claim::kAlreadyOwned;
    send_error(op, "session id in use", false, &msg.hdr);
    return Claim::kRefused;
  }
  if (o.sessions.size() >= limits_.sessions_per_operator ||
      attached.sid_owner.size() >= limits_.sessions_per_device) {
    return Claim::kTooMany;
  }
  attached.sid_owner.emplace(msg.hdr.sid, op);
  o.sessions.emplace(msg.hdr.sid, &owner);
  return Claim::kClaimed;
}

bool OperatorSide::owns(OperatorId op, const protocol::ProtoHdr& hdr) {
  auto it = operators_.find(op);
  if (it == operators_.end()) return false;
  if (!hdr.sid.empty() && it->second.sessions.find(hdr.sid) != it->second.sessions.end()) {
    return true;
  }
  send_error(op, "session not found", false, &hdr);
  return false;
}

bool OperatorSide::has_owner(const std::string& device_id, const std::string& sid) const {
  auto dev = devices_state_.find(device_id);
  return dev != devices_state_.end() &&
         dev->second.sid_owner.find(sid) != dev->second.sid_owner.end();
}

void OperatorSide::forget(const std::string& device_id, const std::string& sid) {
  auto dev = devices_state_.find(device_id);
  if (dev == devices_state_.end()) return;
  auto owner = dev->second.sid_owner.find(sid);
  if (owner == dev->second.sid_owner.end()) return;
  if (auto op = operators_.find(owner->second); op != operators_.end()) {
    op->second.sessions.erase(sid);
  }
  dev->second.sid_owner.erase(owner);
}

std::vector<std::string> OperatorSide::sessions_of(OperatorId op,
                                                   const ProtocolService& owner) const {
  std::vector<std::string> out;
  auto it = operators_.find(op);
  if (it == operators_.end()) return out;
  for (const auto& [sid, service] : it->second.sessions) {
    if (service == &owner) out.push_back(sid);
  }
  return out;
}

}  // namespace tether::hub
