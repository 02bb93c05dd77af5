// The libwebsockets server: one TLS listener (HTTP/1.1 only), its own lws service
// loop, and the glue that turns lws callbacks into calls on the hub core (device
// and operator WebSockets), the JSON API and the static UI files. Admission
// (admission.hpp) and the static files' rules (static_files.hpp) live apart; this
// is the only file of the hub that sees lws.
//
// Paths:
//   /api/devices/v1/deviceconnect/connect                      device WebSocket (Bearer token)
//   /api/management/v1/deviceconnect/devices/{id}/connect      operator WebSocket (cookie)
//   /api/...                                                   JSON API (http_api.hpp)
//   everything else                                            files under hub.web-root
#pragma once

#include <cstdint>
#include <memory>

#include "hub/config.hpp"
#include "hub/core.hpp"
#include "hub/operators/accounts.hpp"
#include "hub/operators/operator_auth.hpp"
#include "hub/store/sql_operator_store.hpp"
#include "hub/store/store.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

class Server {
 public:
  // Binds the listener and prepares everything; SIGINT and SIGTERM are blocked in
  // the calling thread and delivered to the loop through a signalfd.
  // `core` gets the WebSockets; the JSON API reaches it, `store`, the operator
  // `accounts` and the audit trail in `operator_store`.
  static Result<std::unique_ptr<Server>> create(const HubConfig& config, Store& store,
                                                Accounts& accounts,
                                                SqlOperatorStore& operator_store, HubCore& core,
                                                const Logger& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually listened on (useful with listen.port = 0).
  std::uint16_t port() const;

  // Logins and sessions, for the cluster layer to bind to (before run()).
  OperatorAuth& operator_auth();

  // Serves until SIGINT or SIGTERM. Returns the process exit status.
  int run();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::hub
