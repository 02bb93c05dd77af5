// A row of main's plugin table: everything the daemon needs to know about one
// protocol handler. Adding a handler is one folder under plugins/ plus one row;
// nothing else in the daemon changes (docs/plugins.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "daemon/plugin_api/options.hpp"
#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"
#include "protocol/result.hpp"

namespace tether::daemon {

// Builds the handler from its context and its (already checked) options section.
// An error is logged by the daemon with the plugin's name, and it exits 1.
using PluginFactory = std::function<Result<std::unique_ptr<ProtocolHandler>>(
    const PluginContext& context, OptionReader& options)>;

struct PluginRow {
  // The protocol number the handler serves (wire.md section 2); one row per number.
  std::uint16_t proto;
  // Session-based handlers (shell, file transfer, port forward) are the ones a
  // control `accept` lists and the ones control `close` reaches.
  bool session_based;
  // The plugin's options section; its name names the plugin (logs, errors). When it
  // declares an `enabled` key and that is false, the plugin is not built at all.
  OptionSection options;
  PluginFactory factory;
};

}  // namespace tether::daemon
