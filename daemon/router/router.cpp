#include "daemon/router/router.hpp"

#include <cstdio>

#include "protocol/control.hpp"

namespace tether::daemon {
namespace {

using protocol::proto::kControl;

std::string hex_proto(std::uint16_t proto) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%04X", proto);
  return text;
}

// True when an `open` body ({versions:[...]}) offers version 1.
bool offers_version_1(const protocol::Bytes& body) {
  auto open = protocol::ControlOpen::decode(body);
  if (!open) return false;
  for (auto v : open->versions) {
    if (v == protocol::control::kVersion) return true;
  }
  return false;
}

}  // namespace

Router::Router(Outbound& outbound, const log::Logger& logger) : outbound_(outbound), log_(logger) {}

Status Router::add_handler(std::uint16_t proto, ProtocolHandler& handler, bool session_based) {
  if (proto == kControl)
    return Error(ErrorCode::kInvalidArgument, "the control protocol is handled by the router");
  if (handlers_.count(proto) != 0)
    return Error(ErrorCode::kInvalidArgument, "protocol " + hex_proto(proto) + " registered twice");
  handlers_[proto] = Registration{&handler, session_based};
  return {};
}

std::vector<std::uint16_t> Router::session_protocols() const {
  std::vector<std::uint16_t> out;
  for (const auto& [proto, registration] : handlers_) {
    if (registration.session_based) out.push_back(proto);
  }
  return out;
}

void Router::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& [proto, registration] : handlers_) registration.handler->on_shutdown();
}

void Router::on_link_up() {
  control_sessions_.clear();
  for (auto& [proto, registration] : handlers_) registration.handler->on_connected();
}

void Router::on_link_down() {
  control_sessions_.clear();
  for (auto& [proto, registration] : handlers_) registration.handler->on_disconnected();
}

void Router::on_link_garbage(const Error& error) {
  send_error("undecodable message: " + error.message(), false, nullptr, {});
}

void Router::on_link_message(const protocol::ProtoMsg& msg) {
  if (msg.hdr.proto == kControl) {
    handle_control(msg);
    return;
  }
  auto it = handlers_.find(msg.hdr.proto);
  if (it == handlers_.end()) {
    log_.debug("message for unknown protocol " + hex_proto(msg.hdr.proto));
    send_error("unknown protocol " + hex_proto(msg.hdr.proto), false, &msg, msg.hdr.sid);
    return;
  }
  if (auto status = it->second.handler->on_message(msg); !status) {
    log_.debug("protocol " + hex_proto(msg.hdr.proto) + " refused '" + msg.hdr.typ +
               "': " + status.error().message());
    send_error(status.error().message(), false, &msg, msg.hdr.sid);
  }
}

void Router::handle_control(const protocol::ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == protocol::control::kPing) {
    (void)outbound_.send(protocol::make_msg(kControl, protocol::control::kPong, msg.hdr.sid),
                         Priority::kControl);
  } else if (typ == protocol::control::kPong) {
    // Nothing to do: the WebSocket keepalive is what detects a dead link.
  } else if (typ == protocol::control::kOpen) {
    if (!offers_version_1(msg.body)) {
      send_error("handshake rejected: require version 1", true, &msg, msg.hdr.sid);
      return;
    }
    if (control_sessions_.size() >= kMaxControlSessions &&
        control_sessions_.count(msg.hdr.sid) == 0) {
      send_error("too many open sessions", true, &msg, msg.hdr.sid);
      return;
    }
    control_sessions_.insert(msg.hdr.sid);
    protocol::ControlAccept accept;
    accept.protocols = session_protocols();
    auto reply =
        protocol::make_msg(kControl, protocol::control::kAccept, msg.hdr.sid, {}, accept.encode());
    (void)outbound_.send(reply, Priority::kControl);
  } else if (typ == protocol::control::kClose) {
    close_session(msg.hdr.sid);
  } else if (typ == protocol::control::kError) {
    std::string text = "(no text)";
    bool close = false;
    if (auto error = protocol::ControlError::decode(msg.body); error) {
      text = error->err;
      close = error->close;
    }
    log_.info("server reported an error (sid '" + msg.hdr.sid.substr(0, 256) +
              "'): " + text.substr(0, 512) + (close ? " (session closed)" : ""));
    if (close) close_session(msg.hdr.sid);
  } else {
    send_error("unknown control message type '" + typ.substr(0, 64) + "'", false, &msg,
               msg.hdr.sid);
  }
}

void Router::close_session(const std::string& sid) {
  control_sessions_.erase(sid);
  // An empty sid names no session: nothing to end.
  if (sid.empty()) return;
  for (auto& [proto, registration] : handlers_) {
    if (registration.session_based) registration.handler->on_session_closed(sid);
  }
}

void Router::send_error(const std::string& text, bool close, const protocol::ProtoMsg* about,
                        const std::string& sid) {
  protocol::ControlError error;
  error.err = text;
  error.close = close;
  if (about != nullptr) {
    error.msgproto = about->hdr.proto;
    if (!about->hdr.typ.empty()) error.msgtype = about->hdr.typ;
    if (auto id = about->hdr.prop_str("msgid")) error.msgid = std::string(*id);
  }
  auto reply = protocol::make_msg(kControl, protocol::control::kError, sid, {}, error.encode());
  if (auto status = outbound_.send(reply, Priority::kControl); !status)
    log_.debug("control error not sent: " + status.error().message());
}

}  // namespace tether::daemon
