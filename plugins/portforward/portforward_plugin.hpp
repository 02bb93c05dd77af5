// The port forward protocol handler (proto 0x0003, spec/sessions.md section 2),
// compatible with mender-connect and `mender-cli port-forward`: `new` dials a TCP
// connection, `forward` carries bytes each way with one chunk in flight per
// direction (each answered by `ack`), `stop` ends a connection from either side.
//
// What Mender lacks: a `new` is checked against portforward.allow before anything
// is dialled, the name resolved on a worker thread and the checked address the one
// dialled; connections are capped (portforward.max-connections); a connection
// whose local side is silent for portforward.idle-timeout is stopped.
//
// Errors are typ `error` with body {err, msgtype} and no props, as Mender sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"
#include "plugins/portforward/allow_list.hpp"
#include "plugins/portforward/portforward_options.hpp"

namespace tether::plugins::portforward {

class PortForwardPlugin final : public daemon::ProtocolHandler {
 public:
  PortForwardPlugin(const daemon::PluginContext& context, const PortForwardOptions& options,
                    AllowList allow);
  ~PortForwardPlugin() override;
  PortForwardPlugin(const PortForwardPlugin&) = delete;
  PortForwardPlugin& operator=(const PortForwardPlugin&) = delete;

  Status on_message(const protocol::ProtoMsg& msg) override;
  void on_disconnected() override;
  void on_session_closed(std::string_view sid) override;
  void on_shutdown() override;

  std::size_t connection_count() const { return connections_.size(); }

  // Bytes from the peer waiting for a slow local socket before the peer is told
  // it broke the one-chunk-in-flight rule.
  static constexpr std::size_t kMaxPendingWrite = 1 << 20;

 private:
  struct Connection;
  using Key = std::pair<std::string, std::string>;  // sid, connection_id
  using ConnectionPtr = std::shared_ptr<Connection>;

  void handle_new(const protocol::ProtoMsg& msg);
  void handle_forward(const protocol::ProtoMsg& msg);
  void handle_ack(const protocol::ProtoMsg& msg);
  void handle_stop(const protocol::ProtoMsg& msg);
  ConnectionPtr find(const protocol::ProtoMsg& msg);

  // Dials the resolved addresses in order, each checked against the allow-list.
  void dial(const ConnectionPtr& connection);
  void connection_established(const ConnectionPtr& connection);
  void on_readable(const ConnectionPtr& connection);
  void on_writable(const ConnectionPtr& connection);
  void arm_idle(const ConnectionPtr& connection);
  // Ends a connection; `notify` sends the peer a `stop`.
  void close(const ConnectionPtr& connection, bool notify, std::string_view why);

  void send(const ConnectionPtr& connection, std::string_view typ, protocol::Bytes body = {});
  void send_error(const std::string& sid, std::string_view msgtype, std::string_view text);

  daemon::EventLoop& loop_;
  daemon::Outbound& outbound_;
  daemon::PluginLogger log_;
  PortForwardOptions options_;
  AllowList allow_;
  std::map<Key, ConnectionPtr> connections_;
  std::shared_ptr<PortForwardPlugin*> self_;
};

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options);

}  // namespace tether::plugins::portforward
