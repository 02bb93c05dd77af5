#include "hub/devices/local_devices.hpp"

#include <utility>

#include "hub/services/control_messages.hpp"
#include "protocol/codec.hpp"

namespace tether::hub {

namespace {

// What an operator sends through a device: the Mender-compatible session
// protocols (sessions.md). Monitoring acks, config and commands are not typed by
// a person waiting for the answer.
bool routed_session(std::uint16_t proto) {
  return proto == protocol::proto::kShell || proto == protocol::proto::kFileTransfer ||
         proto == protocol::proto::kPortForward;
}

}  // namespace

void LocalDevices::connected(ConnId conn, const std::string& device_id, Link& link) {
  if (auto it = lease_.find(device_id); it != lease_.end()) {
    const ConnId old = it->second;
    Link* old_link = links_.at(old).link;
    log_.info("device " + device_id + ": new connection replaces the old one");
    links_.erase(old);
    lease_.erase(it);
    // Operators and services hear first, while the old link is already out of
    // reach: nothing more is queued to it but the close.
    events_.device_offline(device_id, "device reconnected");
    old_link->close(close_code::kNormal, "replaced by a newer connection");
  }
  links_.emplace(conn, DeviceLink{device_id, &link});
  lease_[device_id] = conn;
  store_.record_seen(device_id, now_ms());
  log_.info("device " + device_id + " connected");
  events_.device_online(device_id);
}

void LocalDevices::closed(ConnId conn) {
  auto it = links_.find(conn);
  if (it == links_.end()) return;
  const std::string device_id = std::move(it->second.device_id);
  links_.erase(it);
  lease_.erase(device_id);
  log_.info("device " + device_id + " disconnected");
  events_.device_offline(device_id, "device disconnected");
  store_.record_seen(device_id, now_ms());
}

void LocalDevices::drop(const std::string& device_id, const std::string& why) {
  auto it = lease_.find(device_id);
  if (it == lease_.end()) return;
  Link* link = links_.at(it->second).link;
  links_.erase(it->second);
  lease_.erase(it);
  log_.info("device " + device_id + ": " + why);
  events_.device_offline(device_id, why);
  link->close(close_code::kNormal, "replaced by a newer connection");
}

void LocalDevices::message(ConnId conn, std::span<const std::uint8_t> data) {
  auto it = links_.find(conn);
  if (it == links_.end()) return;
  const std::string device_id = it->second.device_id;  // a copy: the handler may drop the link
  Link& link = *it->second.link;
  auto decoded = protocol::decode(data);
  if (!decoded.ok()) {
    log_.debug("device " + device_id + ": malformed message: " + decoded.error().message());
    link.send(
        protocol::encode(control_error("malformed message: " + decoded.error().message(), false)),
        true);
    return;
  }
  protocol::ProtoMsg& msg = *decoded;
  if (!events_.device_message(device_id, msg)) {
    (void)send(device_id,
               control_error("unknown proto " + std::to_string(msg.hdr.proto), false, &msg.hdr),
               true);
  }
}

Status LocalDevices::send(const std::string& device_id, const protocol::ProtoMsg& msg,
                          bool urgent) {
  auto it = lease_.find(device_id);
  if (it == lease_.end()) {
    return Error(ErrorCode::kUnavailable, "device " + device_id + " is not connected");
  }
  Link& link = *links_.at(it->second).link;
  if (link.queued_bytes() > limits_.queue_hard_cap) {
    return Error(ErrorCode::kBusy, "device " + device_id + " is not keeping up");
  }
  if (routed_session(msg.hdr.proto)) link.mark_interactive();
  link.send(protocol::encode(msg), urgent);
  return Status::Ok();
}

bool LocalDevices::online(const std::string& device_id) const {
  return lease_.find(device_id) != lease_.end();
}

void LocalDevices::disconnect(const std::string& device_id, std::uint16_t code,
                              const std::string& reason) {
  auto it = lease_.find(device_id);
  if (it == lease_.end()) return;
  log_.info("device " + device_id + ": closing its link: " + reason);
  // The lease ends when the link reports closed(), as for any other close.
  links_.at(it->second).link->close(code, reason);
}

void LocalDevices::set_receiving(const std::string& device_id, bool on) {
  auto it = lease_.find(device_id);
  if (it != lease_.end()) links_.at(it->second).link->set_receiving(on);
}

}  // namespace tether::hub
