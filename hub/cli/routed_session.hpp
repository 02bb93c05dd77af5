// One routed session (wire.md section 3) over an OperatorLink: control `open`
// {versions:[1]} on a fresh sid, the device's `accept` (which must list the
// protocol the command needs), control ping answered with pong, and at the end
// control `close` before the link closes. File transfer and port forward sit on
// top and see only their own protocol's messages on the session's sid.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "hub/cli/cli_options.hpp"
#include "hub/cli/operator_link.hpp"
#include "protocol/message.hpp"
#include "protocol/result.hpp"

namespace tether::hub::cli {

class RoutedSession {
 public:
  struct Events {
    std::function<void()> on_ready;                             // accepted
    std::function<void(const protocol::ProtoMsg&)> on_message;  // our protocol, our sid
    // The session is over: the Error that ended it, or OK after end(OK). Once.
    std::function<void(const Status&)> on_end;
  };

  // `protocol_name` names `proto` in messages ("file transfer").
  RoutedSession(daemon::EventLoop& loop, HubAccess hub, std::string device, std::uint16_t proto,
                std::string protocol_name, Events events);
  ~RoutedSession();
  RoutedSession(const RoutedSession&) = delete;
  RoutedSession& operator=(const RoutedSession&) = delete;

  // Dials the hub; fails at once on a TLS setup problem (a bad --ca-file).
  Status start();
  // Sends a message of our protocol on our sid.
  void send(std::string typ, protocol::Map props = {}, protocol::Bytes body = {});
  // Ends the session (control close, then the link) and reports `status` through
  // on_end once the link is closed. Later calls are ignored.
  void end(const Status& status);

  const std::string& device() const { return device_; }

 private:
  void on_link_open();
  void on_link_message(protocol::ProtoMsg& msg);
  void on_control(const protocol::ProtoMsg& msg);

  daemon::EventLoop& loop_;
  HubAccess hub_;
  std::string device_;
  std::uint16_t proto_;
  std::string protocol_name_;
  Events events_;
  std::unique_ptr<OperatorLink> link_;
  daemon::Timer accept_timer_;
  std::string sid_;
  bool ready_ = false;
  bool ending_ = false;
  bool reported_ = false;
  Status result_;
};

}  // namespace tether::hub::cli
