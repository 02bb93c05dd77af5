#include "hub/cluster/bus_envelope.hpp"

#include <array>
#include <string_view>

#include "hub/store/store.hpp"
#include "protocol/codec.hpp"

namespace tether::hub::cluster {

namespace {

using protocol::Value;

constexpr std::array<std::pair<BusMessage::Kind, std::string_view>, 8> kKinds{{
    {BusMessage::Kind::kSend, "send"},
    {BusMessage::Kind::kReceiving, "receiving"},
    {BusMessage::Kind::kFromDevice, "from-device"},
    {BusMessage::Kind::kOnline, "online"},
    {BusMessage::Kind::kOffline, "offline"},
    {BusMessage::Kind::kHello, "hello"},
    {BusMessage::Kind::kLeases, "leases"},
    {BusMessage::Kind::kAlive, "alive"},
}};

std::string_view kind_name(BusMessage::Kind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "?";
}

bool needs_device(BusMessage::Kind k) {
  return k != BusMessage::Kind::kHello && k != BusMessage::Kind::kLeases &&
         k != BusMessage::Kind::kAlive;
}
bool has_msg(BusMessage::Kind k) {
  return k == BusMessage::Kind::kSend || k == BusMessage::Kind::kFromDevice;
}
bool has_stamp(BusMessage::Kind k) {
  return k == BusMessage::Kind::kOnline || k == BusMessage::Kind::kOffline;
}

Error bad(const std::string& why) {
  return Error(ErrorCode::kProtocol, "bus message: " + why);
}

}  // namespace

bool valid_instance_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

protocol::Bytes encode_bus_message(const BusMessage& m) {
  protocol::Map map{{"k", std::string(kind_name(m.kind))}, {"from", m.from}};
  if (needs_device(m.kind)) map.emplace_back("d", m.device);
  if (has_msg(m.kind)) map.emplace_back("m", m.msg);
  if (has_stamp(m.kind)) map.emplace_back("t", m.stamp);
  if (m.kind == BusMessage::Kind::kSend || m.kind == BusMessage::Kind::kReceiving ||
      m.kind == BusMessage::Kind::kLeases) {
    map.emplace_back("f", m.flag);
  }
  if (m.kind == BusMessage::Kind::kLeases) {
    map.emplace_back("last", m.last);
    protocol::Array leases;
    leases.reserve(m.leases.size());
    for (const auto& lease : m.leases)
      leases.emplace_back(protocol::Array{lease.device, lease.stamp});
    map.emplace_back("l", std::move(leases));
  }
  return protocol::encode_value(Value(std::move(map)));
}

Result<BusMessage> decode_bus_message(std::span<const std::uint8_t> data) {
  if (data.size() > kMaxBusMessage) {
    return bad(std::to_string(data.size()) + " bytes is over the limit");
  }
  auto value = protocol::decode_value(data);
  if (!value.ok()) return bad(value.error().message());
  const protocol::Map* map = value->as_map();
  if (map == nullptr) return bad("not a map");
  BusMessage m;
  const Value* kind = protocol::find(*map, "k");
  if (kind == nullptr || kind->as_str() == nullptr) return bad("no kind");
  bool known = false;
  for (const auto& [k, name] : kKinds) {
    if (*kind->as_str() == name) {
      m.kind = k;
      known = true;
    }
  }
  if (!known) return bad("unknown kind '" + kind->as_str()->substr(0, 32) + "'");
  const Value* from = protocol::find(*map, "from");
  if (from == nullptr || from->as_str() == nullptr || !valid_instance_id(*from->as_str())) {
    return bad("no valid sender");
  }
  m.from = *from->as_str();
  if (needs_device(m.kind)) {
    const Value* device = protocol::find(*map, "d");
    if (device == nullptr || device->as_str() == nullptr || !valid_device_id(*device->as_str())) {
      return bad("no valid device id");
    }
    m.device = *device->as_str();
  }
  if (has_msg(m.kind)) {
    const Value* msg = protocol::find(*map, "m");
    if (msg == nullptr || msg->as_bin() == nullptr) return bad("no message");
    m.msg = *msg->as_bin();
  }
  if (has_stamp(m.kind)) {
    const Value* stamp = protocol::find(*map, "t");
    if (stamp == nullptr || !stamp->as_int() || *stamp->as_int() < 0) return bad("no stamp");
    m.stamp = *stamp->as_int();
  }
  if (m.kind == BusMessage::Kind::kSend || m.kind == BusMessage::Kind::kReceiving ||
      m.kind == BusMessage::Kind::kLeases) {
    const Value* flag = protocol::find(*map, "f");
    if (flag == nullptr || !flag->as_bool()) return bad("no flag");
    m.flag = *flag->as_bool();
  }
  if (m.kind == BusMessage::Kind::kLeases) {
    const Value* last = protocol::find(*map, "last");
    const Value* leases = protocol::find(*map, "l");
    if (last == nullptr || !last->as_bool()) return bad("no last flag");
    m.last = *last->as_bool();
    if (leases == nullptr || leases->as_array() == nullptr) return bad("no lease list");
    if (leases->as_array()->size() > kMaxLeasesPerMessage) return bad("too many leases");
    for (const Value& entry : *leases->as_array()) {
      const protocol::Array* pair = entry.as_array();
      if (pair == nullptr || pair->size() != 2 || (*pair)[0].as_str() == nullptr ||
          !valid_device_id(*(*pair)[0].as_str()) || !(*pair)[1].as_int() ||
          *(*pair)[1].as_int() < 0) {
        return bad("a malformed lease");
      }
      m.leases.push_back({*(*pair)[0].as_str(), *(*pair)[1].as_int()});
    }
  }
  return m;
}

namespace bus_subjects {

namespace {
constexpr std::string_view kDevicePrefix = "tether.device.";
constexpr std::string_view kInstancePrefix = "tether.instance.";
}  // namespace

std::string device(const std::string& device_id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string subject(kDevicePrefix);
  for (const char c : device_id) {
    const auto byte = static_cast<unsigned char>(c);
    subject += kHex[byte >> 4];
    subject += kHex[byte & 0xf];
  }
  return subject;
}

std::string instance(const std::string& instance_id) {
  return std::string(kInstancePrefix) + instance_id;
}

bool urgent(std::string_view subject) {
  return subject.starts_with(kDevicePrefix) || subject.starts_with(kInstancePrefix);
}

}  // namespace bus_subjects

}  // namespace tether::hub::cluster
