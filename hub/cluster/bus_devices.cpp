#include "hub/cluster/bus_devices.hpp"

#include <algorithm>
#include <vector>

#include "hub/devices/local_devices.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/control_messages.hpp"
#include "hub/store/store.hpp"
#include "protocol/codec.hpp"

namespace tether::hub::cluster {

using Kind = BusMessage::Kind;

BusDevices::BusDevices(Bus& bus, std::string instance_id, const Logger& log)
    : bus_(bus), self_(std::move(instance_id)), log_(log) {
  bus_.add_handler(*this);
}

void BusDevices::bind(LocalDevices& lower, DeviceEvents& upper, OperatorSide& operators) {
  lower_ = &lower;
  upper_ = &upper;
  operators_ = &operators;
  if (auto s = bus_.subscribe(bus_subjects::kPresence); !s.ok()) {
    log_.error(s.error().wrap("bus").message());
  }
  if (auto s = bus_.subscribe(bus_subjects::instance(self_)); !s.ok()) {
    log_.error(s.error().wrap("bus").message());
  }
}

bool BusDevices::newer(const Holder& a, const Holder& b) {
  return a.stamp != b.stamp ? a.stamp > b.stamp : a.instance > b.instance;
}

std::string BusDevices::where(const std::string& device_id) const {
  if (local_.find(device_id) != local_.end()) return self_;
  auto it = remote_.find(device_id);
  return it == remote_.end() ? std::string() : it->second.instance;
}

void BusDevices::publish(const std::string& subject, const BusMessage& message) {
  if (auto s = bus_.publish(subject, encode_bus_message(message)); !s.ok()) {
    log_.warn(s.error().wrap("bus: publishing on " + subject).message());
  }
}

void BusDevices::announce(const std::string& device_id, std::int64_t stamp, bool online) {
  BusMessage m;
  m.kind = online ? Kind::kOnline : Kind::kOffline;
  m.from = self_;
  m.device = device_id;
  m.stamp = stamp;
  publish(bus_subjects::kPresence, m);
}

void BusDevices::send_leases() {
  BusMessage m;
  m.kind = Kind::kLeases;
  m.from = self_;
  m.flag = true;  // the first part
  for (const auto& [device, stamp] : local_) {
    m.leases.push_back({device, stamp});
    if (m.leases.size() == kMaxLeasesPerMessage) {
      publish(bus_subjects::kPresence, m);
      m.leases.clear();
      m.flag = false;
    }
  }
  // Always a last part, possibly empty: it is what retires stale leases.
  m.last = true;
  publish(bus_subjects::kPresence, m);
}

// ------------------------------------------------------------- the services' side

Status BusDevices::send(const std::string& device_id, const protocol::ProtoMsg& msg, bool urgent) {
  if (local_.find(device_id) != local_.end()) {
    // A session this instance sends on is this instance's: replies stay here.
    if (!msg.hdr.sid.empty()) {
      if (auto r = routes_.find(device_id); r != routes_.end()) r->second.by_sid.erase(msg.hdr.sid);
    }
    return lower_->send(device_id, msg, urgent);
  }
  if (remote_.find(device_id) == remote_.end()) {
    return Error(ErrorCode::kUnavailable, "device " + device_id + " is not connected");
  }
  BusMessage m;
  m.kind = Kind::kSend;
  m.from = self_;
  m.device = device_id;
  m.flag = urgent;
  m.msg = protocol::encode(msg);
  auto s = bus_.publish(bus_subjects::device(device_id), encode_bus_message(m));
  if (!s.ok()) return s.error().wrap("device " + device_id + " (over the bus)");
  return Status::Ok();
}

bool BusDevices::online(const std::string& device_id) const {
  return local_.find(device_id) != local_.end() || remote_.find(device_id) != remote_.end();
}

void BusDevices::disconnect(const std::string& device_id, std::uint16_t code,
                            const std::string& reason) {
  if (local_.find(device_id) != local_.end()) lower_->disconnect(device_id, code, reason);
}

void BusDevices::set_receiving(const std::string& device_id, bool on) {
  if (local_.find(device_id) != local_.end()) {
    apply_receiving(device_id, self_, on);
    return;
  }
  if (remote_.find(device_id) == remote_.end()) return;
  BusMessage m;
  m.kind = Kind::kReceiving;
  m.from = self_;
  m.device = device_id;
  m.flag = on;
  publish(bus_subjects::device(device_id), m);
}

void BusDevices::apply_receiving(const std::string& device_id, const std::string& instance,
                                 bool on) {
  auto& paused = paused_[device_id];
  if (on) {
    paused.erase(instance);
  } else {
    paused.insert(instance);
  }
  lower_->set_receiving(device_id, paused.empty());
  if (paused.empty()) paused_.erase(device_id);
}

// ------------------------------------------------------------------ local links

void BusDevices::device_online(const std::string& device_id) {
  // The stamp orders leases like a Lamport clock: above every stamp heard, so a
  // link that replaces a known one wins even within the same millisecond.
  last_stamp_ = std::max(last_stamp_ + 1, now_ms());
  if (auto it = remote_.find(device_id); it != remote_.end()) {
    last_stamp_ = std::max(last_stamp_, it->second.stamp + 1);
    remote_.erase(it);
    remote_gone(device_id, "device reconnected");
  }
  local_[device_id] = last_stamp_;
  // Subscribed before announcing: the bus keeps one connection's order, so no
  // instance can send to the device before the subscription is in place.
  if (auto s = bus_.subscribe(bus_subjects::device(device_id)); !s.ok()) {
    log_.error(s.error().wrap("bus: device " + device_id).message());
  }
  announce(device_id, last_stamp_, true);
  upper_->device_online(device_id);
}

void BusDevices::device_offline(const std::string& device_id, const std::string& why) {
  auto it = local_.find(device_id);
  if (it != local_.end()) {
    const std::int64_t stamp = it->second;
    local_.erase(it);
    routes_.erase(device_id);
    paused_.erase(device_id);
    bus_.unsubscribe(bus_subjects::device(device_id));
    announce(device_id, stamp, false);
  }
  upper_->device_offline(device_id, why);
}

bool BusDevices::device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  if (!msg.hdr.sid.empty()) {
    auto r = routes_.find(device_id);
    if (r != routes_.end()) {
      auto route = r->second.by_sid.find(msg.hdr.sid);
      if (route != r->second.by_sid.end()) {
        BusMessage m;
        m.kind = Kind::kFromDevice;
        m.from = self_;
        m.device = device_id;
        m.msg = protocol::encode(msg);
        route->second.second = r->second.next_use++;
        publish(bus_subjects::instance(route->second.first), m);
        return true;
      }
    }
  }
  return upper_->device_message(device_id, msg);
}

void BusDevices::remember_route(const std::string& device_id, const std::string& sid,
                                const std::string& instance) {
  Routes& routes = routes_[device_id];
  auto& entry = routes.by_sid[sid];
  entry = {instance, routes.next_use++};
  if (routes.by_sid.size() > kMaxRoutesPerDevice) {
    auto oldest = std::min_element(
        routes.by_sid.begin(), routes.by_sid.end(),
        [](const auto& a, const auto& b) { return a.second.second < b.second.second; });
    routes.by_sid.erase(oldest);
  }
}

void BusDevices::remote_gone(const std::string& device_id, const std::string& why) {
  operators_->device_gone(device_id, why);
}

// ---------------------------------------------------------------------- the bus

void BusDevices::bus_connected() {
  log_.info("bus: connected as instance " + self_ + "; exchanging device leases");
  connected_ = true;
  // Silence while this instance was cut off says nothing about the others.
  for (auto& [instance, tick] : heard_) tick = ticks_;
  BusMessage hello;
  hello.kind = Kind::kHello;
  hello.from = self_;
  publish(bus_subjects::kPresence, hello);
  send_leases();
}

void BusDevices::bus_disconnected() {
  connected_ = false;
}

void BusDevices::bus_tick() {
  ++ticks_;
  if (!connected_) return;
  BusMessage alive;
  alive.kind = Kind::kAlive;
  alive.from = self_;
  publish(bus_subjects::kPresence, alive);
  std::vector<std::string> silent;
  for (const auto& [instance, tick] : heard_) {
    if (ticks_ - tick > kMissedTicks) silent.push_back(instance);
  }
  for (const auto& instance : silent) expire(instance);
}

void BusDevices::expire(const std::string& instance) {
  heard_.erase(instance);
  unlisted_.erase(instance);
  // Its operators are gone with it, and so is the resume each slow one owed:
  // the devices it paused read again unless another instance paused them too.
  std::vector<std::string> paused_by_it;
  for (const auto& [device, instances] : paused_) {
    if (instances.count(instance) != 0) paused_by_it.push_back(device);
  }
  for (const auto& device : paused_by_it) apply_receiving(device, instance, true);
  std::vector<std::string> devices;
  for (const auto& [device, holder] : remote_) {
    if (holder.instance == instance) devices.push_back(device);
  }
  if (!devices.empty()) {
    log_.warn("bus: instance " + instance + " is silent; its " + std::to_string(devices.size()) +
              " devices are offline here");
  }
  for (const auto& device : devices) {
    remote_.erase(device);
    remote_gone(device, "the hub instance holding the device's link stopped answering");
  }
}

void BusDevices::bus_message(const std::string& subject, const protocol::Bytes& data) {
  if (subject == bus_subjects::kOperators) return;  // BusOperators's
  auto decoded = decode_bus_message(data);
  if (!decoded.ok()) {
    log_.warn(decoded.error().wrap("bus: on " + subject.substr(0, 128)).message());
    return;
  }
  const BusMessage& m = *decoded;
  if (m.from == self_) return;  // our own presence news
  const bool known = heard_.find(m.from) != heard_.end();
  heard_[m.from] = ticks_;
  if (!known && m.kind == Kind::kAlive) {
    // Taken for dead here (or never heard): whatever it holds, we forgot. A hello
    // makes every instance, that one included, send its lease list.
    BusMessage hello;
    hello.kind = Kind::kHello;
    hello.from = self_;
    publish(bus_subjects::kPresence, hello);
  }
  switch (m.kind) {
    case Kind::kSend:
      on_send(m);
      break;
    case Kind::kReceiving:
      if (local_.find(m.device) != local_.end()) apply_receiving(m.device, m.from, m.flag);
      break;
    case Kind::kFromDevice:
      on_from_device(m);
      break;
    case Kind::kOnline:
      on_online(m.device, Holder{m.from, m.stamp});
      break;
    case Kind::kOffline:
      on_offline(m);
      break;
    case Kind::kHello:
      send_leases();
      break;
    case Kind::kLeases:
      on_leases(m);
      break;
    case Kind::kAlive:
      break;  // heard: that is all
  }
}

void BusDevices::on_send(const BusMessage& m) {
  // The link moved on since the sender looked: the new holder's announcement
  // reaches the sender, which sends there from then on.
  if (local_.find(m.device) == local_.end()) return;
  auto msg = protocol::decode(m.msg);
  if (!msg.ok()) {
    log_.warn(msg.error().wrap("bus: from instance " + m.from + " for " + m.device).message());
    return;
  }
  if (!msg->hdr.sid.empty()) remember_route(m.device, msg->hdr.sid, m.from);
  if (auto s = lower_->send(m.device, *msg, m.flag); !s.ok()) {
    log_.debug(s.error().wrap("bus: from instance " + m.from).message());
  }
}

void BusDevices::on_from_device(const BusMessage& m) {
  auto holder = remote_.find(m.device);
  if (holder == remote_.end() || holder->second.instance != m.from) return;  // a stale link's
  auto msg = protocol::decode(m.msg);
  if (!msg.ok()) {
    log_.warn(msg.error().wrap("bus: from instance " + m.from + " for " + m.device).message());
    return;
  }
  if (!upper_->device_message(m.device, *msg)) {
    (void)send(m.device,
               control_error("unknown proto " + std::to_string(msg->hdr.proto), false, &msg->hdr),
               true);
  }
}

void BusDevices::on_online(const std::string& device_id, const Holder& holder) {
  last_stamp_ = std::max(last_stamp_, holder.stamp);
  if (auto local = local_.find(device_id); local != local_.end()) {
    if (!newer(holder, Holder{self_, local->second})) {
      // Our link is the newer one: say so again, so the other instance drops its own.
      announce(device_id, local->second, true);
      return;
    }
    lower_->drop(device_id, "device reconnected to another hub instance");
  }
  auto it = remote_.find(device_id);
  if (it == remote_.end()) {
    log_.debug("bus: device " + device_id + " is on instance " + holder.instance);
    remote_.emplace(device_id, holder);
    return;
  }
  if (it->second == holder || newer(it->second, holder)) return;
  log_.debug("bus: device " + device_id + " moved to instance " + holder.instance);
  it->second = holder;
  remote_gone(device_id, "device reconnected");
}

void BusDevices::on_offline(const BusMessage& m) {
  auto it = remote_.find(m.device);
  if (it == remote_.end() || !(it->second == Holder{m.from, m.stamp})) return;
  remote_.erase(it);
  log_.debug("bus: device " + m.device + " left instance " + m.from);
  remote_gone(m.device, "device disconnected");
}

void BusDevices::on_leases(const BusMessage& m) {
  if (m.flag) {
    auto& unlisted = unlisted_[m.from];
    unlisted.clear();
    for (const auto& [device, holder] : remote_) {
      if (holder.instance == m.from) unlisted.insert(device);
    }
  }
  auto& unlisted = unlisted_[m.from];
  for (const auto& lease : m.leases) {
    unlisted.erase(lease.device);
    on_online(lease.device, Holder{m.from, lease.stamp});
  }
  if (!m.last) return;
  for (const auto& device : unlisted) {
    auto it = remote_.find(device);
    if (it == remote_.end() || it->second.instance != m.from) continue;
    remote_.erase(it);
    remote_gone(device, "device disconnected");
  }
  unlisted_.erase(m.from);
}

}  // namespace tether::hub::cluster
