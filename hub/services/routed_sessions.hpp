// Routed sessions: control (0xFFFF) plus the protocols that run inside a session
// the operator opens with control `open` — file transfer (0x0002) and port forward
// (0x0003). The hub does not interpret those: it checks that the sid belongs to the
// operator and relays, as Mender's deviceconnect does.
//
// - Control `ping` from either side is answered with `pong`.
// - Operator `open` claims the sid (over the limits: control error, close:true);
//   `close` and `error` need the sid to be the operator's; `close` ends it.
// - Device `accept`, `close` and `error` go to the sid's owner; `close`, or an
//   `error` with close:true, ends the session.
// - Operator gone: the device gets `close` per session. Device gone (or the hub
//   instance holding its link): the operator gets, per session, a control `error`
//   {err: why, close: true} on its sid.
// - Audit: session.open for each `open` the operator sends, and file.get /
//   file.put (path) and forward.open (host:port) for the file transfer and port
//   forward requests it relays, read from their msgpack bodies where present.
#pragma once

#include <string>

#include "hub/services/protocol_service.hpp"

namespace tether::hub {

class RoutedSessions final : public ProtocolService {
 public:
  explicit RoutedSessions(ServiceContext context) : context_(context) {}

  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;
  bool on_operator_message(OperatorId op, protocol::ProtoMsg& msg) override;
  void on_session_abandoned(const std::string& device_id, const std::string& user,
                            const std::string& sid) override;
  void on_session_lost(OperatorId op, const std::string& sid, const std::string& why) override;

 private:
  void device_control(const std::string& device_id, protocol::ProtoMsg& msg);
  void operator_control(OperatorId op, protocol::ProtoMsg& msg);
  void audit_request(OperatorId op, const protocol::ProtoMsg& msg);

  ServiceContext context_;
};

}  // namespace tether::hub
