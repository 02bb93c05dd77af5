#include "hub/cli/routed_session.hpp"

#include <algorithm>
#include <chrono>

#include "hub/auth.hpp"
#include "protocol/control.hpp"

namespace tether::hub::cli {

namespace {

namespace control = protocol::control;

// The device answers `open` at once; the hub adds a relay hop.
constexpr std::chrono::milliseconds kAcceptTimeout{30'000};

}  // namespace

RoutedSession::RoutedSession(daemon::EventLoop& loop, HubAccess hub, std::string device,
                             std::uint16_t proto, std::string protocol_name, Events events)
    : loop_(loop),
      hub_(std::move(hub)),
      device_(std::move(device)),
      proto_(proto),
      protocol_name_(std::move(protocol_name)),
      events_(std::move(events)),
      accept_timer_(loop) {}

RoutedSession::~RoutedSession() = default;

Status RoutedSession::start() {
  auto sid = random_hex(16);
  if (!sid.ok()) return sid.error();
  sid_ = *sid;
  auto link = OperatorLink::create(
      loop_, hub_, device_,
      {[this] { on_link_open(); }, [this](protocol::ProtoMsg& msg) { on_link_message(msg); },
       [this](const Status& status) {
         if (reported_) return;
         reported_ = true;
         accept_timer_.cancel();
         // A link that closed under us ends the session with the link's reason,
         // unless the session had already been ended on purpose.
         const Status outcome = ending_ ? result_ : status;
         if (events_.on_end) events_.on_end(outcome);
       }});
  if (!link.ok()) return link.error();
  link_ = std::move(link).value();
  link_->start();
  return Status::Ok();
}

void RoutedSession::on_link_open() {
  protocol::ProtoMsg open;
  open.hdr.proto = protocol::proto::kControl;
  open.hdr.typ = control::kOpen;
  open.hdr.sid = sid_;
  open.body = protocol::ControlOpen{{control::kVersion}}.encode();
  link_->send(open);
  accept_timer_.start(kAcceptTimeout, [this] {
    end(Error(ErrorCode::kUnavailable, "device " + device_ + " did not accept the session"));
  });
}

void RoutedSession::on_link_message(protocol::ProtoMsg& msg) {
  if (msg.hdr.proto == protocol::proto::kControl) {
    on_control(msg);
    return;
  }
  if (msg.hdr.proto != proto_ || msg.hdr.sid != sid_ || !ready_ || ending_) return;
  if (events_.on_message) events_.on_message(msg);
}

void RoutedSession::on_control(const protocol::ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  // The hub's own errors about our messages may come without our sid.
  if (msg.hdr.sid != sid_ && !(typ == control::kError && msg.hdr.sid.empty())) return;
  if (typ == control::kPing) {
    protocol::ProtoMsg pong;
    pong.hdr.proto = protocol::proto::kControl;
    pong.hdr.typ = control::kPong;
    pong.hdr.sid = sid_;
    link_->send(pong);
  } else if (typ == control::kAccept) {
    if (ready_) return;
    accept_timer_.cancel();
    auto accept = protocol::ControlAccept::decode(msg.body);
    if (!accept.ok()) {
      end(Error(ErrorCode::kProtocol,
                "device " + device_ + " sent an accept that does not decode"));
      return;
    }
    const auto& p = accept->protocols;
    if (std::find(p.begin(), p.end(), proto_) == p.end()) {
      end(Error(ErrorCode::kUnavailable, "device " + device_ + " does not offer " + protocol_name_ +
                                             " (protocol " + std::to_string(proto_) +
                                             "): it is disabled in its configuration"));
      return;
    }
    ready_ = true;
    if (events_.on_ready) events_.on_ready();
  } else if (typ == control::kError) {
    auto error = protocol::ControlError::decode(msg.body);
    const std::string text = error.ok() ? error->err : std::string("an undecodable error");
    // Before the accept every error ends the attempt; after it only a closing one.
    if (!ready_ || (error.ok() && error->close)) {
      end(Error(ErrorCode::kUnavailable,
                (ready_ ? "the session ended: " : "the session was refused: ") + text));
    }
  } else if (typ == control::kClose) {
    end(Error(ErrorCode::kUnavailable, "device " + device_ + " closed the session"));
  }
}

void RoutedSession::send(std::string typ, protocol::Map props, protocol::Bytes body) {
  if (!link_ || ending_) return;
  protocol::ProtoMsg msg;
  msg.hdr.proto = proto_;
  msg.hdr.typ = std::move(typ);
  msg.hdr.sid = sid_;
  msg.hdr.props = std::move(props);
  msg.body = std::move(body);
  link_->send(msg);
}

void RoutedSession::end(const Status& status) {
  if (ending_) return;
  ending_ = true;
  result_ = status;
  accept_timer_.cancel();
  if (!link_) {
    if (!reported_) {
      reported_ = true;
      loop_.post([this, status] {
        if (events_.on_end) events_.on_end(status);
      });
    }
    return;
  }
  protocol::ProtoMsg close;
  close.hdr.proto = protocol::proto::kControl;
  close.hdr.typ = control::kClose;
  close.hdr.sid = sid_;
  // Queued before the link's close, so it goes out first.
  link_->send(close);
  link_->close();
}

}  // namespace tether::hub::cli
