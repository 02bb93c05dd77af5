// One operator WebSocket to a hub, for the CLI: dials
// wss://HUB/api/management/v1/deviceconnect/devices/DEVICE/connect once with
// "Authorization: Bearer <API token>" (no Origin header: admission only compares
// origins that browsers send), and never re-dials — a CLI reports a lost link and
// exits. TLS always verifies the chain and the host name (tls_context.hpp); there
// is no switch to turn that off.
//
// The refusals a hub answers the upgrade with become sentences an operator can
// act on (401 token refused, 403 forbidden, 404 no such device, 409 device
// offline, 429 too many operators on the device).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "hub/cli/cli_options.hpp"
#include "protocol/message.hpp"
#include "protocol/result.hpp"

namespace tether::hub::cli {

class OperatorLink {
 public:
  struct Events {
    std::function<void()> on_open;
    std::function<void(protocol::ProtoMsg&)> on_message;
    // The link is gone: an Error (refused, failed, closed by the hub), or OK after
    // close() finished. Called once; nothing is called after it.
    std::function<void(const Status&)> on_closed;
  };

  static Result<std::unique_ptr<OperatorLink>> create(daemon::EventLoop& loop, const HubAccess& hub,
                                                      const std::string& device, Events events);
  ~OperatorLink();
  OperatorLink(const OperatorLink&) = delete;
  OperatorLink& operator=(const OperatorLink&) = delete;

  // Dials; on_open or on_closed follows.
  void start();
  // Queues one message (dropped when the link is not open).
  void send(const protocol::ProtoMsg& msg);
  // Sends what is queued, then closes with 1000; on_closed(OK) follows.
  void close();

  class Impl;

 private:
  explicit OperatorLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The path of the operator WebSocket for `device`.
std::string operator_path(const std::string& device);

// What a refused upgrade means, for the message an operator reads.
std::string describe_refusal(int http_status);

}  // namespace tether::hub::cli
