// Everything a plugin gets from the daemon, in one place: main builds one context
// per plugin and passes it to the plugin's factory. Every reference and pointer in
// it stays valid for the plugin's whole life (main destroys the plugins first).
#pragma once

#include <string>

#include "daemon/loop/event_loop.hpp"
#include "daemon/plugin_api/link_state.hpp"
#include "daemon/plugin_api/outbound.hpp"
#include "daemon/plugin_api/plugin_logger.hpp"

namespace tether::daemon::store {
class DurableStore;
}
namespace tether::daemon::dbus {
class BusService;
}

namespace tether::daemon {

// Who this daemon is (device.id, device.state-dir, the version it runs).
struct DeviceIdentity {
  std::string id;         // device.id; may be empty when unset and /etc/machine-id unreadable
  std::string state_dir;  // device.state-dir, an absolute path
  std::string version;    // tetherd's version, "0.1.0"
};

struct PluginContext {
  // The one event loop: timers, fd watches, post, run_blocking for blocking work.
  EventLoop& loop;
  // The connection's outbound queue.
  Outbound& outbound;
  // Lines prefixed with the plugin's name; audit records.
  PluginLogger log;
  // Link state changes, for plugins that care beyond on_connected/on_disconnected.
  LinkObservers& link;
  DeviceIdentity device;
  // The durable store under device.state-dir. Null when not configured.
  store::DurableStore* store = nullptr;
  // The daemon's D-Bus service (dbus.bus). Null when not configured.
  dbus::BusService* bus = nullptr;
};

}  // namespace tether::daemon
