// The device side as the rest of the hub sees it: "send this to device X", "is X
// online", "pause reading from X". Nothing outside the device side knows where a
// device's link lives. Today every link ends in this process (LocalDevices); when
// several hub instances share the devices, an implementation that reaches the
// others through a message bus slots in here and nothing else changes.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/message.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

class DeviceSide {
 public:
  virtual ~DeviceSide() = default;

  // Queues `msg` to the device's live link. `urgent` (control-class) messages go
  // ahead of bulk output. kUnavailable: the device has no live link; kBusy: its
  // outbound queue is over limits.queue_hard_cap and the message was dropped.
  virtual Status send(const std::string& device_id, const protocol::ProtoMsg& msg, bool urgent) = 0;

  // Whether the device holds a live link (its lease).
  virtual bool online(const std::string& device_id) const = 0;

  // Flow control: stop (false) or resume (true) reading from the device, because
  // an operator it sends to is slow.
  virtual void set_receiving(const std::string& device_id, bool on) = 0;

  // Closes the device's link here with `code` and `reason` (no-op when its link
  // is not in this process). For a service that cannot keep a promise the link
  // depends on: the device reconnects and sends again what was not acknowledged.
  virtual void disconnect(const std::string& device_id, std::uint16_t code,
                          const std::string& reason) = 0;
};

// What the device side tells the rest of the hub. All on the loop thread.
class DeviceEvents {
 public:
  virtual ~DeviceEvents() = default;
  // The device took the lease (a link authenticated and upgraded).
  virtual void device_online(const std::string& device_id) = 0;
  // The device lost its lease: its link closed, or a newer link replaced it.
  virtual void device_offline(const std::string& device_id, const std::string& why) = 0;
  // One decoded message from the device. false: no protocol service takes this
  // proto number (the device side answers with a control error).
  virtual bool device_message(const std::string& device_id, protocol::ProtoMsg& msg) = 0;
};

}  // namespace tether::hub
