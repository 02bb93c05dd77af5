// Turns main's plugin table into running handlers: the option sections the parser
// declares, and, at start, each enabled plugin built by its factory with its own
// context and registered with the router. Nothing here knows a plugin by name.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "daemon/log/logger.hpp"
#include "daemon/plugin_api/plugin_row.hpp"
#include "daemon/router/router.hpp"

namespace tether::daemon {

// What every plugin's context shares; the logger gets the plugin's name.
struct PluginEnvironment {
  EventLoop& loop;
  Outbound& outbound;
  const log::Logger& logger;
  LinkObservers& link;
  DeviceIdentity device;
  store::DurableStore* store = nullptr;  // null when not configured
  dbus::BusService* bus = nullptr;       // null when not configured
};

// The built handlers, in table order. Must outlive their registration with the
// router and be destroyed before what the environment refers to.
using PluginHandlers = std::vector<std::unique_ptr<ProtocolHandler>>;

// The option sections of every row, for parse_command_line.
std::vector<OptionSection> plugin_sections(std::span<const PluginRow> rows);

// Whether `row`'s plugin is enabled: its `enabled` option as given, else as
// declared; a plugin that declares no `enabled` key is always enabled.
bool plugin_enabled(const PluginRow& row, const OptionValues& values);

// Builds every enabled plugin and registers it with `router`. Stops at the first
// failure, naming the plugin ("plugin shell: ..."); a disabled plugin is not built
// and is logged at info.
Result<PluginHandlers> build_plugins(std::span<const PluginRow> rows, const OptionValues& values,
                                     const PluginEnvironment& environment, Router& router);

}  // namespace tether::daemon
