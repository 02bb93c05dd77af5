// A WebSocket peer as the device side and the operator side see it: a device or
// an operator's browser. The lws glue (server/server.cpp) implements it; tests
// fake it. Everything runs on the one loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/value.hpp"

namespace tether::hub {

class Link {
 public:
  virtual ~Link() = default;

  // Queues one encoded ProtoMsg as a binary message. Control-class messages
  // (`urgent`) go ahead of bulk output.
  virtual void send(protocol::Bytes encoded, bool urgent = false) = 0;
  // Flushes what is queued, then closes with `code`. Nothing is sent after this.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  // Encoded bytes queued and not yet written to the socket.
  virtual std::size_t queued_bytes() const = 0;
  // Flow control: stop (false) or resume (true) reading from this peer.
  virtual void set_receiving(bool on) = 0;
  // An operator is working through this link (a shell, a file transfer, a port
  // forward): for the next while its reads come before the fleet's bulk traffic,
  // so a keystroke's echo does not queue behind thousands of records. Called for
  // every such message; cheap.
  virtual void mark_interactive() = 0;
};

// WebSocket close codes the hub uses.
namespace close_code {
inline constexpr std::uint16_t kNormal = 1000;
inline constexpr std::uint16_t kGoingAway = 1001;
inline constexpr std::uint16_t kUnsupportedData = 1003;  // a text message
inline constexpr std::uint16_t kPolicy = 1008;           // stalled or misbehaving peer
inline constexpr std::uint16_t kTooBig = 1009;
inline constexpr std::uint16_t kInternalError = 1011;  // the hub cannot go on with this link
}  // namespace close_code

}  // namespace tether::hub
