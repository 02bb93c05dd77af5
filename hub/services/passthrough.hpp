// Protocols the reference hub has no service for yet but lets operators use
// (client, config, update, command): operator messages go to the device with the
// operator's name stamped; device messages are dropped (logged at debug). When a
// real service for one of these numbers lands, it takes the number out of this
// service's registration.
#pragma once

#include <string>

#include "hub/services/protocol_service.hpp"

namespace tether::hub {

class Passthrough final : public ProtocolService {
 public:
  explicit Passthrough(ServiceContext context) : context_(context) {}

  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;
  bool on_operator_message(OperatorId op, protocol::ProtoMsg& msg) override;

 private:
  ServiceContext context_;
};

}  // namespace tether::hub
