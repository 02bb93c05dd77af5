// The command plugin (proto 0x0013, wire.md 5.4): the `[command]` options, and the
// handler that joins the broker to the link and to io.tether.Commands1 on the bus.
#pragma once

#include <memory>

#include "daemon/plugin_api/options.hpp"
#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"
#include "plugins/command/command_broker.hpp"
#include "plugins/command/commands_service.hpp"

namespace tether::plugins::command {

// [command]: timeout (seconds, fractions allowed), max-pending.
daemon::OptionSection option_section();
BrokerOptions read_options(daemon::OptionReader& reader);

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options);

class CommandPlugin final : public daemon::ProtocolHandler {
 public:
  // Without a bus (dbus.bus = none) no app can register, so every request ends as
  // `no-target`.
  CommandPlugin(const daemon::PluginContext& context, std::unique_ptr<CommandBroker> broker,
                std::unique_ptr<CommandsService> service);
  ~CommandPlugin() override;
  CommandPlugin(const CommandPlugin&) = delete;
  CommandPlugin& operator=(const CommandPlugin&) = delete;

  Status on_message(const protocol::ProtoMsg& msg) override;
  void on_connected() override;
  void on_disconnected() override;
  void on_shutdown() override;

 private:
  std::unique_ptr<CommandBroker> broker_;
  std::unique_ptr<CommandsService> service_;  // destroyed first: it points at the broker
};

}  // namespace tether::plugins::command
