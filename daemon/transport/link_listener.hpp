// What the connection tells the layer above it (the router): the link's state
// changes and every inbound message. Called on the loop thread only.
#pragma once

#include "protocol/message.hpp"
#include "protocol/result.hpp"

namespace tether::daemon::transport {

class LinkListener {
 public:
  virtual ~LinkListener() = default;
  // The WebSocket handshake completed; the outbound queue accepts messages.
  virtual void on_link_up() = 0;
  // The link is gone; the outbound queue has been discarded.
  virtual void on_link_down() = 0;
  // One complete binary message, decoded.
  virtual void on_link_message(const protocol::ProtoMsg& msg) = 0;
  // One complete binary message that did not decode.
  virtual void on_link_garbage(const Error& error) = 0;
};

}  // namespace tether::daemon::transport
