// The device links that end in this process, and the lease: one live link per
// device. A device that connects again (after a network change the old TCP
// connection may linger) takes the lease, and the older link is closed with 1000.
//
// The lws glue (server/) feeds it connections and messages; everyone else goes
// through DeviceSide. All on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>

#include "hub/config.hpp"
#include "hub/devices/device_side.hpp"
#include "hub/link.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

// Identifies one WebSocket of this process (device or operator).
using ConnId = std::uint64_t;

class LocalDevices final : public DeviceSide {
 public:
  LocalDevices(DeviceEvents& events, Store& store, const Limits& limits, const Logger& log)
      : events_(events), store_(store), limits_(limits), log_(log) {}

  // --- from the lws glue ---
  // A device authenticated and upgraded; it takes the lease.
  void connected(ConnId conn, const std::string& device_id, Link& link);
  // One complete binary message from a device link.
  void message(ConnId conn, std::span<const std::uint8_t> data);
  // The link is gone (idempotent; a link that lost its lease is ignored).
  void closed(ConnId conn);
  // The device took its lease on another hub instance: its link here loses the
  // lease (device_offline with `why`) and is closed with 1000. No-op when absent.
  void drop(const std::string& device_id, const std::string& why);

  // --- DeviceSide ---
  Status send(const std::string& device_id, const protocol::ProtoMsg& msg, bool urgent) override;
  bool online(const std::string& device_id) const override;
  void set_receiving(const std::string& device_id, bool on) override;
  void disconnect(const std::string& device_id, std::uint16_t code,
                  const std::string& reason) override;

 private:
  struct DeviceLink {
    std::string device_id;
    Link* link = nullptr;
  };

  DeviceEvents& events_;
  Store& store_;
  const Limits& limits_;
  const Logger& log_;
  // Hashed: both are looked up for every message, and with ten thousand links a
  // tree's walk was a chain of cache misses (~5 % of the loop at full ingest).
  std::unordered_map<ConnId, DeviceLink> links_;
  std::unordered_map<std::string, ConnId> lease_;
};

}  // namespace tether::hub
