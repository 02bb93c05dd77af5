// A layer spliced between this process's device links (LocalDevices) and the rest
// of the hub: it sees every device event before the services do and every send
// before a link does. The message-bus side (hub/cluster/bus_devices.hpp) is one:
// it answers for devices whose links are on other hub instances.
//
// HubCore wires the services to two relays that point at LocalDevices and at
// itself until a layer is inserted; nothing else in the hub changes.
#pragma once

#include <string>

#include "hub/devices/device_side.hpp"
#include "protocol/message.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

class LocalDevices;
class OperatorSide;

class DeviceLayer : public DeviceSide, public DeviceEvents {
 public:
  // `lower`: the links of this process (the layer sends through it and may drop a
  // link that lost its lease elsewhere). `upper`: the services. `operators`: so a
  // device that leaves another instance closes the operators attached here.
  virtual void bind(LocalDevices& lower, DeviceEvents& upper, OperatorSide& operators) = 0;
};

// Forwards to whatever `target` is; the services hold a reference to this, so a
// layer can be inserted after they are built.
class DeviceSideRelay final : public DeviceSide {
 public:
  explicit DeviceSideRelay(DeviceSide& target) : target_(&target) {}
  void point_at(DeviceSide& target) { target_ = &target; }
  Status send(const std::string& device_id, const protocol::ProtoMsg& msg, bool urgent) override {
    return target_->send(device_id, msg, urgent);
  }
  bool online(const std::string& device_id) const override { return target_->online(device_id); }
  void set_receiving(const std::string& device_id, bool on) override {
    target_->set_receiving(device_id, on);
  }
  void disconnect(const std::string& device_id, std::uint16_t code,
                  const std::string& reason) override {
    target_->disconnect(device_id, code, reason);
  }

 private:
  DeviceSide* target_;
};

class DeviceEventsRelay final : public DeviceEvents {
 public:
  explicit DeviceEventsRelay(DeviceEvents& target) : target_(&target) {}
  void point_at(DeviceEvents& target) { target_ = &target; }
  void device_online(const std::string& device_id) override { target_->device_online(device_id); }
  void device_offline(const std::string& device_id, const std::string& why) override {
    target_->device_offline(device_id, why);
  }
  bool device_message(const std::string& device_id, protocol::ProtoMsg& msg) override {
    return target_->device_message(device_id, msg);
  }

 private:
  DeviceEvents* target_;
};

}  // namespace tether::hub
