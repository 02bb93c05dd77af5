#include "hub/services/control_messages.hpp"

#include <utility>

#include "protocol/control.hpp"

namespace tether::hub {

namespace proto = protocol::proto;

protocol::ProtoMsg control_error(std::string err, bool close, const protocol::ProtoHdr* about) {
  protocol::ControlError body;
  body.err = std::move(err);
  body.close = close;
  std::string sid;
  if (about != nullptr) {
    body.msgproto = about->proto;
    if (!about->typ.empty()) body.msgtype = about->typ;
    sid = about->sid;
  }
  return protocol::make_msg(proto::kControl, protocol::control::kError, std::move(sid), {},
                            body.encode());
}

protocol::ProtoMsg control_pong(const std::string& sid) {
  return protocol::make_msg(proto::kControl, protocol::control::kPong, sid);
}

}  // namespace tether::hub
