#include "plugins/shell/shell_options.hpp"

#include <pwd.h>

namespace tether::plugins::shell {

daemon::OptionSection option_section() {
  return {
      "shell",
      {
          {"enabled", "true", "serve remote shells"},
          {"command", "/bin/sh", "absolute path of the shell"},
          {"user", std::nullopt, "user the shells run as (default: the daemon's user)"},
          {"max-sessions", "16", "shells in total"},
          {"max-per-user", "4", "shells per backend user"},
          {"idle-timeout", "600", "seconds without input before a shell is stopped; 0 = never"},
          {"ping-interval", "60", "seconds between shell health pings; 0 = off"},
      },
      [](daemon::OptionReader& reader) { (void)read_options(reader); },
  };
}

ShellOptions read_options(daemon::OptionReader& reader) {
  ShellOptions o;
  reader.boolean("enabled", o.enabled);
  reader.absolute_path("command", o.command);
  reader.string("user", o.user);
  // A check, not the lookup the plugin uses (that one is done once, at start).
  if (!o.user.empty() && ::getpwnam(o.user.c_str()) == nullptr)
    reader.problem("user", "unknown user '" + o.user + "'");
  reader.count("max-sessions", o.max_sessions);
  reader.count("max-per-user", o.max_per_user);
  reader.whole_seconds("idle-timeout", o.idle_timeout);
  reader.whole_seconds("ping-interval", o.ping_interval);
  return o;
}

}  // namespace tether::plugins::shell
