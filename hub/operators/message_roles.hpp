// Which role an operator needs to send a message over its WebSocket, by proto and
// typ. OperatorSide checks every message against this table before any service
// sees it, so a service cannot forget: a viewer's crafted shell `new` never
// reaches the shell relay.
//
//   proto             typ                 role
//   control (0xFFFF)  ping, pong          viewer  (keepalive of the socket itself)
//   control           open, close, error  operator (routed sessions: files, forwards)
//   shell (1)         any                 operator
//   file transfer (2) any                 operator
//   port forward (3)  any                 operator
//   monitoring (16)   any                 viewer  (reads; devices send, operators subscribe)
//   anything else     any                 operator (at least; a service may ask more)
//
// A service that adds viewer messages (a read over the socket) adds a row here.
#pragma once

#include <cstdint>
#include <string_view>

#include "hub/operators/caller.hpp"

namespace tether::hub {

Role role_for_message(std::uint16_t proto, std::string_view typ);

}  // namespace tether::hub
