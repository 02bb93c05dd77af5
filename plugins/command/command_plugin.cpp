#include "plugins/command/command_plugin.hpp"

#include <utility>

namespace tether::plugins::command {

daemon::OptionSection option_section() {
  return {
      "command",
      {
          {"timeout", "30",
           "seconds a request waits for its app's Reply when it names no timeout_s"},
          {"max-pending", "16", "requests waiting per target; more are answered busy"},
      },
      [](daemon::OptionReader& reader) { (void)read_options(reader); },
  };
}

BrokerOptions read_options(daemon::OptionReader& reader) {
  BrokerOptions options;
  reader.seconds("timeout", options.timeout, true);
  reader.count("max-pending", options.max_pending, 1);
  return options;
}

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options) {
  BrokerOptions broker_options = read_options(options);
  if (!options.ok()) return Error(ErrorCode::kInvalidArgument, "invalid [command] options");
  if (context.store == nullptr) {
    return Error(ErrorCode::kUnavailable, "needs the durable store (device.state-dir)");
  }
  daemon::Outbound& outbound = context.outbound;
  auto broker = std::make_unique<CommandBroker>(
      context.loop, *context.store, broker_options,
      [&outbound](const protocol::ProtoMsg& msg) { return outbound.send(msg); });
  std::unique_ptr<CommandsService> service;
  if (context.bus != nullptr) {
    auto created = CommandsService::create(*context.bus, *broker);
    if (!created.ok()) return created.error();
    service = std::move(created).value();
  }
  return std::unique_ptr<daemon::ProtocolHandler>(
      std::make_unique<CommandPlugin>(context, std::move(broker), std::move(service)));
}

CommandPlugin::CommandPlugin(const daemon::PluginContext& /*context*/,
                             std::unique_ptr<CommandBroker> broker,
                             std::unique_ptr<CommandsService> service)
    : broker_(std::move(broker)), service_(std::move(service)) {}

CommandPlugin::~CommandPlugin() {
  service_.reset();
}

Status CommandPlugin::on_message(const protocol::ProtoMsg& msg) {
  return broker_->on_message(msg);
}

void CommandPlugin::on_connected() {
  broker_->on_connected();
}

void CommandPlugin::on_disconnected() {
  broker_->on_disconnected();
}

void CommandPlugin::on_shutdown() {
  broker_->on_shutdown();
}

}  // namespace tether::plugins::command
