// The [shell] options of daemon.md, as the daemon's option parser fills them in and
// the shell plugin consumes them.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

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

}  // namespace tether::plugins::shell
