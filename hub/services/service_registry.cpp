#include "hub/services/service_registry.hpp"

namespace tether::hub {

Result<ProtocolService*> ServiceRegistry::add(std::initializer_list<std::uint16_t> protos,
                                              std::unique_ptr<ProtocolService> service) {
  if (protos.size() == 0 || !service) {
    return Error(ErrorCode::kInvalidArgument, "a service needs at least one proto number");
  }
  for (std::uint16_t proto : protos) {
    if (by_proto_.count(proto) != 0) {
      return Error(ErrorCode::kBusy, "proto " + std::to_string(proto) + " already has a service");
    }
  }
  ProtocolService* raw = service.get();
  for (std::uint16_t proto : protos) by_proto_[proto] = raw;
  services_.push_back(std::move(service));
  return raw;
}

ProtocolService* ServiceRegistry::find(std::uint16_t proto) const {
  auto it = by_proto_.find(proto);
  return it == by_proto_.end() ? nullptr : it->second;
}

bool ServiceRegistry::device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  ProtocolService* service = find(msg.hdr.proto);
  if (service == nullptr) return false;
  service->on_device_message(device_id, msg);
  return true;
}

bool ServiceRegistry::operator_message(OperatorId op, protocol::ProtoMsg& msg) {
  ProtocolService* service = find(msg.hdr.proto);
  return service != nullptr && service->on_operator_message(op, msg);
}

void ServiceRegistry::device_online(const std::string& device_id) {
  for (const auto& service : services_) service->on_device_online(device_id);
}

void ServiceRegistry::device_offline(const std::string& device_id) {
  for (const auto& service : services_) service->on_device_offline(device_id);
}

void ServiceRegistry::tick() {
  for (const auto& service : services_) service->on_tick();
}

}  // namespace tether::hub
