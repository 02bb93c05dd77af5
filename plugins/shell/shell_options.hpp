// The [shell] options of daemon.md, as the daemon's option parser fills them in and
// the shell plugin consumes them.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace tether::plugins::shell {

// How the processes of a session are held together so that all of them end with it
// (docs/shell.md, "Containment").
enum class ContainmentMode {
  kAuto,         // a cgroup per session where the daemon may make one, else the process tree
  kCgroup,       // a cgroup per session, or no shells at all (every `new` is refused)
  kProcessTree,  // never a cgroup: child subreapers and a /proc walk off the loop
};

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
  ContainmentMode containment = ContainmentMode::kAuto;
};

}  // namespace tether::plugins::shell
