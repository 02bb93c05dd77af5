// Protocol services by proto number: the one place that dispatches. A message
// whose proto has no service is answered by the side it came from (a device gets
// "unknown proto N", an operator "proto N may not be sent to a device").
//
// Registering a service is the only step that wires it in:
//
//   registry.emplace<ConfigService>({protocol::proto::kConfig}, context);
//
// One service may take several numbers (routed sessions: control, file transfer
// and port forward share their sids); a number has at most one service.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hub/operators/operator_side.hpp"
#include "hub/services/protocol_service.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

class ServiceRegistry final : public OperatorMessages {
 public:
  // Takes `service` for every number in `protos`. kInvalidArgument when `protos`
  // is empty, kBusy when a number already has a service (nothing is registered then).
  Result<ProtocolService*> add(std::initializer_list<std::uint16_t> protos,
                               std::unique_ptr<ProtocolService> service);

  // add() for a service built in place; returns it typed so the caller can keep it.
  template <typename Service, typename... Args>
  Result<Service*> emplace(std::initializer_list<std::uint16_t> protos, Args&&... args) {
    auto service = std::make_unique<Service>(std::forward<Args>(args)...);
    Service* typed = service.get();
    auto added = add(protos, std::move(service));
    if (!added.ok()) return added.error();
    return typed;
  }

  ProtocolService* find(std::uint16_t proto) const;
  // Every service once, in registration order.
  const std::vector<std::unique_ptr<ProtocolService>>& services() const { return services_; }

  // --- dispatch ---
  bool device_message(const std::string& device_id, protocol::ProtoMsg& msg);
  bool operator_message(OperatorId op, protocol::ProtoMsg& msg) override;
  void device_online(const std::string& device_id);
  void device_offline(const std::string& device_id);
  // Every service's on_tick(), once a second.
  void tick();

 private:
  std::vector<std::unique_ptr<ProtocolService>> services_;
  std::map<std::uint16_t, ProtocolService*> by_proto_;
};

}  // namespace tether::hub
