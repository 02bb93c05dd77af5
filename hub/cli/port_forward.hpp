// `tether-hub forward`: a local listener on 127.0.0.1:LOCALPORT whose every
// connection becomes one port forward connection (proto 3, sessions.md section 2)
// on a single routed session, speaking as mender-cli does:
//
// - accept → `new` {remote_host, remote_port, protocol:"tcp"} with a fresh
//   connection_id; the local socket is not read until the device's `new` reply.
// - local bytes → `forward` (at most 4096 bytes), then no more reading until the
//   device's `ack`: one chunk in flight towards the device.
// - a device `forward` is written to the local socket and acked once written:
//   one chunk in flight towards us, so a slow local reader slows the device.
// - local EOF or error → `stop`; a device `stop` closes the local socket (after
//   what is already in hand is written).
// - a device `error` about a `new` (a host outside portforward.allow, a failed
//   dial) carries no connection_id: it closes the oldest connection still waiting
//   for its `new` reply and is reported on stderr.
//
// Memory per connection is bounded by one chunk each way. The forward runs until
// stop() (SIGINT/SIGTERM) or until the session or the link ends.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "hub/cli/cli_options.hpp"
#include "hub/cli/routed_session.hpp"

namespace tether::hub::cli {

class PortForward {
 public:
  // `report` gets one line per event an operator should see (stderr in main);
  // `done` the outcome once the forward is over.
  PortForward(daemon::EventLoop& loop, const HubAccess& hub, ForwardCommand command,
              std::function<void(const std::string&)> report,
              std::function<void(const Status&)> done);
  ~PortForward();
  PortForward(const PortForward&) = delete;
  PortForward& operator=(const PortForward&) = delete;

  // Binds the local port (a taken port fails here) and dials the hub.
  Status start();
  // Stops every connection and ends the session; done(OK) follows.
  void stop();

  // The local port actually bound (after start()).
  std::uint16_t local_port() const { return local_port_; }

 private:
  struct Connection;
  using ConnectionPtr = std::shared_ptr<Connection>;

  void on_ready();
  void on_message(const protocol::ProtoMsg& msg);
  void accept_connections();
  void on_local_readable(const ConnectionPtr& c);
  void on_local_writable(const ConnectionPtr& c);
  void close_connection(const ConnectionPtr& c, bool tell_device);
  ConnectionPtr find(const protocol::ProtoMsg& msg);

  daemon::EventLoop& loop_;
  ForwardCommand command_;
  std::function<void(const std::string&)> report_;
  RoutedSession session_;
  int listen_fd_ = -1;
  std::uint16_t local_port_ = 0;
  std::unique_ptr<daemon::FdWatch> listen_watch_;
  std::map<std::string, ConnectionPtr> connections_;
  std::deque<std::string> awaiting_new_;  // connection ids, oldest first
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
};

}  // namespace tether::hub::cli
