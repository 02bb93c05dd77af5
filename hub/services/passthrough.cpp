#include "hub/services/passthrough.hpp"

#include "hub/operators/operator_side.hpp"

namespace tether::hub {

void Passthrough::on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  context_.log.debug("device " + device_id + ": ignoring proto " + std::to_string(msg.hdr.proto) +
                     " " + msg.hdr.typ);
}

bool Passthrough::on_operator_message(OperatorId op, protocol::ProtoMsg& msg) {
  context_.operators.to_device(op, msg, false);
  return true;
}

}  // namespace tether::hub
