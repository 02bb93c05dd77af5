// The command line and INI file parser for tetherd (Boost.Program_options). It
// never throws and never exits: it returns what to do, or every problem it found,
// so that main decides about output and exit codes in one place.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "daemon/options/daemon_options.hpp"
#include "daemon/plugin_api/options.hpp"

namespace tether::daemon {

struct ParsedCommandLine {
  enum class Action { kRun, kCheckConfig, kHelp, kVersion };
  Action action = Action::kRun;
  DaemonOptions options;
  // Every option given, by full name, as text: what the plugins' factories read
  // their sections from (through an OptionReader).
  OptionValues values;
  // One line per problem, each naming the option ("server.ping-interval: not a
  // number: 'abc'"). Non-empty means the options must not be used.
  std::vector<std::string> problems;
  std::string help_text;  // filled for kHelp
};

// `plugin_sections` are declared next to the daemon's own (for --help, the file and
// unknown-option checks) and checked with their own `check`, so --check-config
// validates plugin options without building a plugin. `machine_id_path` is where
// the default device.id comes from; tests point it elsewhere.
ParsedCommandLine parse_command_line(int argc, const char* const argv[],
                                     std::span<const OptionSection> plugin_sections = {},
                                     const std::string& machine_id_path = "/etc/machine-id");

}  // namespace tether::daemon
