// The device side of one hub instance among several on a message bus. Every
// instance reaches every device:
//
// - Presence and the lease: when a device's link lands here, this instance
//   subscribes to the device's subject and announces {online, device, stamp} on
//   tether.presence; every instance remembers where each device is. A newer
//   announcement for a device whose link is here (a later stamp; ties by instance
//   id) drops the link here: one live link per device across instances.
// - To a device: send() for a device whose link is elsewhere publishes on the
//   device's subject; the instance holding the link delivers it.
// - Back to operators: a session (sid) belongs to the instance that last sent on
//   it. A device's message with that sid goes back to that instance
//   (tether.instance.<id>), whose services and operators handle it as if the
//   link were there. Messages without a sid (monitoring, registrations) are
//   handled where the link is.
// - Flow control: an operator elsewhere that is slow pauses the device's link
//   here until every instance that paused it resumes it (or is taken for dead).
// - After a (re)connection to the bus, an instance says hello and sends its full
//   lease list; the others replace what they knew about it.
// - Every instance says `alive` each tick (1 s). One not heard for kMissedTicks
//   ticks while this instance is connected (killed, hung, cut off) loses its
//   devices here: they are offline until they reconnect somewhere.
//
// All on the loop thread (the bus hands its callbacks over through the loop inbox).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "hub/cluster/bus.hpp"
#include "hub/cluster/bus_envelope.hpp"
#include "hub/config.hpp"
#include "hub/devices/device_layer.hpp"

namespace tether::hub::cluster {

class BusDevices final : public DeviceLayer, public BusHandler {
 public:
  // Sessions remembered per device for routing replies; the oldest go first.
  static constexpr std::size_t kMaxRoutesPerDevice = 256;
  // Ticks without a word from an instance before its devices are taken offline.
  static constexpr std::uint64_t kMissedTicks = 3;

  // `instance_id`: this instance's name on the bus (valid_instance_id).
  BusDevices(Bus& bus, std::string instance_id, const Logger& log);

  // --- DeviceLayer ---
  void bind(LocalDevices& lower, DeviceEvents& upper, OperatorSide& operators) override;

  // --- DeviceSide (the services) ---
  Status send(const std::string& device_id, const protocol::ProtoMsg& msg, bool urgent) override;
  bool online(const std::string& device_id) const override;
  void set_receiving(const std::string& device_id, bool on) override;
  // Only a link of this instance: a service asks for it about a link it served.
  void disconnect(const std::string& device_id, std::uint16_t code,
                  const std::string& reason) override;

  // --- DeviceEvents (this process's links) ---
  void device_online(const std::string& device_id) override;
  void device_offline(const std::string& device_id, const std::string& why) override;
  bool device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;

  // --- BusHandler ---
  void bus_message(const std::string& subject, const protocol::Bytes& data) override;
  void bus_connected() override;
  void bus_disconnected() override;
  void bus_tick() override;

  // --- queries (tests, logs) ---
  const std::string& instance_id() const { return self_; }
  // The instance holding the device's link ("" when none is known).
  std::string where(const std::string& device_id) const;

 private:
  struct Holder {
    std::string instance;
    std::int64_t stamp = 0;
    bool operator==(const Holder&) const = default;
  };
  // Sessions started by other instances: sid -> instance, with a use counter for
  // evicting the oldest.
  struct Routes {
    std::map<std::string, std::pair<std::string, std::uint64_t>, std::less<>> by_sid;
    std::uint64_t next_use = 0;
  };

  static bool newer(const Holder& a, const Holder& b);
  void publish(const std::string& subject, const BusMessage& message);
  void announce(const std::string& device_id, std::int64_t stamp, bool online);
  void send_leases();
  void remember_route(const std::string& device_id, const std::string& sid,
                      const std::string& instance);
  void apply_receiving(const std::string& device_id, const std::string& instance, bool on);
  // Another instance's device is gone (or moved): operators attached here end.
  void remote_gone(const std::string& device_id, const std::string& why);

  void on_send(const BusMessage& m);
  void on_from_device(const BusMessage& m);
  void on_online(const std::string& device_id, const Holder& holder);
  void on_offline(const BusMessage& m);
  void on_leases(const BusMessage& m);
  // `instance` went silent: its devices are offline here.
  void expire(const std::string& instance);

  Bus& bus_;
  const std::string self_;
  const Logger& log_;
  LocalDevices* lower_ = nullptr;
  DeviceEvents* upper_ = nullptr;
  OperatorSide* operators_ = nullptr;
  std::int64_t last_stamp_ = 0;
  // Devices whose link is here, with the stamp of their lease.
  std::map<std::string, std::int64_t, std::less<>> local_;
  // Devices whose link is on another instance.
  std::map<std::string, Holder, std::less<>> remote_;
  std::map<std::string, Routes, std::less<>> routes_;
  // Instances (this one included) that paused a local device.
  std::map<std::string, std::set<std::string>, std::less<>> paused_;
  // A lease list being received: the devices of that instance not yet listed.
  std::map<std::string, std::set<std::string>, std::less<>> unlisted_;
  // The tick each other instance was last heard at.
  std::map<std::string, std::uint64_t, std::less<>> heard_;
  std::uint64_t ticks_ = 0;
  bool connected_ = false;
};

}  // namespace tether::hub::cluster
