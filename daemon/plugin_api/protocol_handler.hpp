// One protocol's handler (a plugin), as the router drives it. A handler sees the
// plugin API only (this, Outbound, PluginContext), never a libwebsockets handle.
#pragma once

#include <string_view>

#include "daemon/plugin_api/outbound.hpp"
#include "protocol/message.hpp"
#include "protocol/result.hpp"

namespace tether::daemon {

class ProtocolHandler {
 public:
  virtual ~ProtocolHandler() = default;

  // Handles one inbound message of this handler's protocol. An error (for example
  // an unknown typ) is answered by the router with a control `error`, close false.
  virtual Status on_message(const protocol::ProtoMsg& msg) = 0;

  // The link came up (after the handshake) / went down (queue already discarded).
  virtual void on_connected() {}
  virtual void on_disconnected() {}

  // The backend ended session `sid` with a control `close`, or a control `error`
  // whose `close` is true (wire.md section 3). Called on every session-based
  // handler, because the control protocol does not say which protocol a sid
  // belongs to: a handler that has no session `sid` ignores it. A handler that has
  // one ends it as if its own protocol had asked (the shell: as if `stop` came).
  virtual void on_session_closed(std::string_view sid) { (void)sid; }

  // The daemon is stopping and the link (if up) is still open: send last words,
  // stop sessions. Called once, before the close.
  virtual void on_shutdown() {}
};

}  // namespace tether::daemon
