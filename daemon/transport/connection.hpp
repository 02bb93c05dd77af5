// The one WebSocket to the backend, kept alive forever (docs/connection.md):
// dial, handshake with the bearer token, keep alive with pings, notice a dead link,
// back off and re-dial. It owns the outbound queue and reports everything else to a
// LinkListener. libwebsockets stays inside this file's implementation.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/log/logger.hpp"
#include "daemon/loop/event_loop.hpp"
#include "daemon/options/daemon_options.hpp"
#include "daemon/plugin_api/link_state.hpp"
#include "daemon/transport/credential_source.hpp"
#include "daemon/transport/link_listener.hpp"
#include "daemon/transport/outbound_queue.hpp"
#include "daemon/transport/proxy_config.hpp"
#include "daemon/transport/server_url.hpp"
#include "protocol/result.hpp"

namespace tether::daemon::transport {

// The states live in the plugin API (daemon/plugin_api/link_state.hpp), where
// everyone who observes them can see them.
using daemon::link_state_name;
using daemon::LinkState;

class Connection {
 public:
  // The server options as configured, plus what is derived from them once.
  struct Settings {
    ServerOptions server;
    ServerUrl url;                      // server.url, parsed
    std::optional<ProxyAddress> proxy;  // server.proxy or the environment, resolved
    // A dial that has not completed the handshake by then is abandoned:
    // ping_interval + pong_timeout, the same budget a live link gets.
    std::chrono::milliseconds connect_timeout{45'000};
    OutboundQueue::Limits outbound_limits;
  };

  // Builds settings from the options (the URL and proxy must already be valid).
  static Result<Settings> settings_from(const ServerOptions& options);

  // Fails on a TLS configuration that cannot work (bad certificate or key file),
  // with the option's name in the message.
  static Result<std::unique_ptr<Connection>> create(EventLoop& loop, Settings settings,
                                                    const log::Logger& logger);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Where link events and inbound messages go; set before start(). Separate from
  // create() because the listener (the router) needs outbound() to be built.
  void set_listener(LinkListener& listener);
  // Dials at once, and keeps dialling until shutdown().
  void start();
  // Closes the WebSocket with 1001 (if it is up), stops dialling, then calls `done`
  // on the loop. `done` is called within about two seconds whatever the peer does.
  void shutdown(std::function<void()> done);

  // Where each dial gets its token (and maybe its server URL); set before start().
  // Without one, the connection reads server.token-file. The source must outlive
  // the connection.
  void set_credential_source(CredentialSource& source);
  // Drops the link (or the dial under way) and dials again at once, without the
  // backoff wait: for D-Bus Reconnect and for credentials that changed.
  void reconnect_now();
  // The URL of the current or last dial, e.g. "wss://host:443/path".
  std::string server_url() const;

  Outbound& outbound();
  LinkState state() const;
  // Every state change, with a sentence about it, goes to these observers (main's
  // log line, sd_notify STATUS, the D-Bus State property, plugins).
  LinkObservers& observers();

  class Impl;

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::daemon::transport
