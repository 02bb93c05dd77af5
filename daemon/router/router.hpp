// Routes every inbound message to the handler of its protocol, and speaks the
// control protocol (0xFFFF, wire.md section 3) itself. Handlers are registered in
// main, one per protocol number; nothing registers itself.
//
// Control `close` for a sid, and control `error` with close true, end that session:
// the router tells every session-based handler (on_session_closed), and the one
// that owns the sid ends it.
//
// Anything the router cannot deliver (an undecodable message, an unknown protocol
// or type, a handler's error) is answered with a control `error` whose `close` is
// false, and the link stays up: one bad message must not cost every session.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon/log/logger.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"
#include "daemon/transport/link_listener.hpp"

namespace tether::daemon {

class Router final : public transport::LinkListener {
 public:
  Router(Outbound& outbound, const log::Logger& logger);

  // `session_based` handlers (shell, file transfer, port forward) are the ones
  // listed in the control `accept` reply's `protocols`.
  Status add_handler(std::uint16_t proto, ProtocolHandler& handler, bool session_based);

  // Calls every handler's on_shutdown, once.
  void shutdown();

  // Proto numbers listed in `accept`: the registered session-based protocols.
  std::vector<std::uint16_t> session_protocols() const;
  // Sessions opened with control `open` and not yet closed (for tests).
  std::size_t open_control_sessions() const { return control_sessions_.size(); }

  // transport::LinkListener.
  void on_link_up() override;
  void on_link_down() override;
  void on_link_message(const protocol::ProtoMsg& msg) override;
  void on_link_garbage(const Error& error) override;

 private:
  struct Registration {
    ProtocolHandler* handler;
    bool session_based;
  };

  void handle_control(const protocol::ProtoMsg& msg);
  // The backend ended session `sid` (control close, or error with close true).
  void close_session(const std::string& sid);
  // A control `error` about `about` (or about nothing: an undecodable message).
  void send_error(const std::string& text, bool close, const protocol::ProtoMsg* about,
                  const std::string& sid);

  Outbound& outbound_;
  const log::Logger& log_;
  std::map<std::uint16_t, Registration> handlers_;
  // Bounded: an `open` beyond this many live sessions is refused.
  static constexpr std::size_t kMaxControlSessions = 1024;
  std::set<std::string> control_sessions_;
  bool shut_down_ = false;
};

}  // namespace tether::daemon
