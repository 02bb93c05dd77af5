// tetherctl status: io.tether.Gateway1's properties, one per line.
#include <ostream>

#include "dbus/generated/gateway1_proxy.h"
#include "dbus/interfaces/names.hpp"
#include "dbus/tetherctl/command.hpp"

namespace tether::tetherctl {
namespace {

class GatewayProxy final : public sdbus::ProxyInterfaces<io::tether::Gateway1_proxy> {
 public:
  explicit GatewayProxy(sdbus::IConnection& bus)
      : ProxyInterfaces(bus, tether::dbus::kBusName, tether::dbus::kObjectPath) {}
};

int run_status(Invocation& call) {
  if (!call.args.empty()) {
    call.err << "tetherctl: status takes no arguments\n";
    return kExitUsage;
  }
  GatewayProxy gateway(call.bus);
  // Read everything first, so that a failure prints nothing half-done.
  const std::string state = gateway.State();
  const std::string device_id = gateway.DeviceId();
  const std::string server_url = gateway.ServerUrl();
  const std::string version = gateway.Version();
  const std::uint64_t pending = gateway.PendingRecords();
  call.out << "State:           " << state << "\n"
           << "Device id:       " << device_id << "\n"
           << "Server URL:      " << server_url << "\n"
           << "Version:         " << version << "\n"
           << "Pending records: " << pending << "\n";
  return kExitOk;
}

}  // namespace

Command status_command() {
  return {"status", "status", "show the daemon's connection state, device id, server and version",
          run_status};
}

}  // namespace tether::tetherctl
