// The [shell] options section (spec/daemon.md): declared, documented and checked
// here, by the plugin that owns it, through the plugin API's option declarations.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "daemon/plugin_api/options.hpp"

namespace tether::plugins::shell {

struct ShellOptions {
  bool enabled = true;
  // Absolute path of the program started on each PTY.
  std::string command = "/bin/sh";
  // User the shells run as; empty means the daemon's own user.
  std::string user;
  std::size_t max_sessions = 16;
  std::size_t max_per_user = 4;
  // Zero disables the limit.
  std::chrono::seconds idle_timeout{600};
  std::chrono::seconds ping_interval{60};
};

// The section as --help shows it: every key, its default and its meaning. Its
// check reads the section with read_options.
daemon::OptionSection option_section();

// Reads the section typed; every problem (a relative command, an unknown user, a
// number that is not one) is recorded in `reader`, naming the option.
ShellOptions read_options(daemon::OptionReader& reader);

}  // namespace tether::plugins::shell
