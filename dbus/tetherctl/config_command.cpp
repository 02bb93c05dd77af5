// tetherctl config get|watch: dispatches to the subcommand's own file.
#include <ostream>

#include "dbus/tetherctl/config_proxy.hpp"

namespace tether::tetherctl {
namespace {

int run_config(Invocation& call) {
  if (call.args.empty()) {
    call.err << "tetherctl: config needs a subcommand: get or watch\n";
    return kExitUsage;
  }
  const std::string sub = call.args.front();
  call.args.erase(call.args.begin());
  if (sub == "get") return run_config_get(call);
  if (sub == "watch") return run_config_watch(call);
  call.err << "tetherctl: config: unknown subcommand '" << sub << "' (get or watch)\n";
  return kExitUsage;
}

}  // namespace

Command config_command() {
  return {"config", "config get [KEY] [--json] | config watch",
          "show the config the backend set (readable, or JSON with --json); watch prints one "
          "JSON line per change",
          run_config};
}

}  // namespace tether::tetherctl
