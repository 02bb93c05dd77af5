// tetherd's composition root: the table of protocol handlers. Adding a handler is
// one folder under plugins/ and one row here (docs/plugins.md); everything else
// (options, building, routing, lifecycle) is daemon/app/tetherd_main.cpp.
#include <array>

#include "daemon/app/tetherd_main.hpp"
#include "plugins/command/command_plugin.hpp"
#include "plugins/config/config_plugin.hpp"
#include "plugins/filetransfer/filetransfer_plugin.hpp"
#include "plugins/menderclient/menderclient_plugin.hpp"
#include "plugins/monitoring/monitoring_plugin.hpp"
#include "plugins/portforward/portforward_plugin.hpp"
#include "plugins/shell/shell_plugin.hpp"
#include "plugins/update/update_plugin.hpp"
#include "protocol/message.hpp"

int main(int argc, char** argv) {
  using tether::daemon::PluginRow;
  // {proto, session_based, options section, factory}
  const std::array plugins{
      PluginRow{tether::protocol::proto::kShell, true, tether::plugins::shell::option_section(),
                tether::plugins::shell::make_plugin},
      PluginRow{tether::protocol::proto::kMonitoring, false,
                tether::plugins::monitoring::option_section(),
                tether::plugins::monitoring::make_plugin},
      PluginRow{tether::protocol::proto::kConfig, false, tether::plugins::config::option_section(),
                tether::plugins::config::make_plugin},
      PluginRow{tether::protocol::proto::kUpdate, false, tether::plugins::update::option_section(),
                tether::plugins::update::make_plugin},
      PluginRow{tether::protocol::proto::kCommand, false,
                tether::plugins::command::option_section(), tether::plugins::command::make_plugin},
      PluginRow{tether::protocol::proto::kFileTransfer, true,
                tether::plugins::filetransfer::option_section(),
                tether::plugins::filetransfer::make_plugin},
      PluginRow{tether::protocol::proto::kPortForward, true,
                tether::plugins::portforward::option_section(),
                tether::plugins::portforward::make_plugin},
      PluginRow{tether::protocol::proto::kClient, true,
                tether::plugins::menderclient::option_section(),
                tether::plugins::menderclient::make_plugin},
  };
  return tether::daemon::tetherd_main(argc, argv, plugins);
}
