// Monitoring intake (proto 0x0010): the device's `status` is recorded in the store
// (what the device list shows); `data`, `alert` and `dropped` records are
// acknowledged by seq so the device's outbox drains (the reference hub does not
// keep the records yet). Bodies are read with protocol/monitoring.hpp's schemas;
// one that does not decode is answered with a control error naming the field.
// Operators may not send monitoring messages.
#pragma once

#include <string>

#include "hub/services/protocol_service.hpp"

namespace tether::hub {

class MonitoringIntake final : public ProtocolService {
 public:
  explicit MonitoringIntake(ServiceContext context) : context_(context) {}

  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;

 private:
  void record_status(const std::string& device_id, const protocol::ProtoMsg& msg);
  void acknowledge(const std::string& device_id, const protocol::ProtoMsg& msg);
  void refuse(const std::string& device_id, const protocol::ProtoMsg& msg, const Error& error);

  ServiceContext context_;
};

}  // namespace tether::hub
