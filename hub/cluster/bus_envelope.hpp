// What hub instances tell each other over the message bus: one msgpack map per
// bus message, {k: kind, from: instance, ...}. Subjects (bus_subjects below):
//
//   tether.presence          every instance: online / offline / hello / leases / alive
//   tether.device.<hex id>   the instance holding the device's link: send / receiving
//   tether.instance.<id>     one instance: from-device (a device's reply to a session
//                            that instance started)
//   tether.operators         every instance: operator accounts, tokens or sessions
//                            changed (bus_operators.hpp has its own small messages)
//
// The bus is a trusted peer, but a decoder still bounds and checks everything: a
// message another version or a stray client publishes must not crash a hub.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::hub::cluster {

// Largest bus message decoded: a 1 MiB device message plus the envelope. The NATS
// server's max_payload must be at least this (docs/hub.md, "Several instances").
inline constexpr std::size_t kMaxBusMessage = (1u << 20) + 4096;
// Device leases per `leases` message; a bigger snapshot takes several.
inline constexpr std::size_t kMaxLeasesPerMessage = 4096;

struct Lease {
  std::string device;
  std::int64_t stamp = 0;  // when the link took the lease, ms since the epoch
};

struct BusMessage {
  enum class Kind {
    kSend,        // to a device: `msg` (encoded ProtoMsg), `flag` = urgent
    kReceiving,   // flow control of a device: `flag` = on
    kFromDevice,  // a device's message (`msg`) for a session the receiver started
    kOnline,      // `device` took its lease on `from` at `stamp`
    kOffline,     // `device` lost the lease it took on `from` at `stamp`
    kHello,       // `from` (re)joined the bus: everyone answers with `leases`
    kLeases,      // a part of `from`'s lease list: `flag` = first part, `last`
    kAlive,       // `from` is still there (every BusDevices::kTickSeconds)
  };
  Kind kind = Kind::kHello;
  std::string from;
  std::string device;
  bool flag = false;
  bool last = false;
  std::int64_t stamp = 0;
  protocol::Bytes msg;
  std::vector<Lease> leases;
};

protocol::Bytes encode_bus_message(const BusMessage& message);
// Errors on garbage, truncation, oversize, unknown kinds, missing or wrongly typed
// fields, and device ids the registry could not hold.
Result<BusMessage> decode_bus_message(std::span<const std::uint8_t> data);

// A valid instance id: 1-64 of [0-9a-z] (main makes 16 random hex digits).
bool valid_instance_id(const std::string& id);

namespace bus_subjects {
inline constexpr const char* kPresence = "tether.presence";
inline constexpr const char* kOperators = "tether.operators";
// Device ids may hold '.', NATS's token separator: the subject carries them in hex.
std::string device(const std::string& device_id);
std::string instance(const std::string& instance_id);
// A device's and an instance's subjects carry what operators wait for (a session's
// messages to the device and back; also the rarer config, command and update
// sends): the receiving instance runs them ahead of its fleet's traffic
// (LoopInbox::post_urgent). Presence and operator news wait their turn.
bool urgent(std::string_view subject);
}  // namespace bus_subjects

}  // namespace tether::hub::cluster
