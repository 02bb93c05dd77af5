// tetherd as a function of its command line and its plugin table: everything
// main.cpp used to do except choosing the plugins. main.cpp owns the table (one row
// per protocol handler) and calls this; tests call it with a table of their own.
#pragma once

#include <span>

#include "daemon/plugin_api/plugin_row.hpp"

namespace tether::daemon {

// Exit codes: 0 clean stop (and --help, --version, a valid --check-config),
// 1 runtime failure at start (including a plugin factory's error),
// 2 bad configuration.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadConfig = 2;

int tetherd_main(int argc, const char* const argv[], std::span<const PluginRow> plugins);

}  // namespace tether::daemon
