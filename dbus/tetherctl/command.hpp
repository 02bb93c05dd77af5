// What every tetherctl subcommand gets and returns. A subcommand is one file that
// defines one Command (status_command.cpp, later submit_command.cpp, ...) and one
// line in the table in main.cpp.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace tether::tetherctl {

// Exit statuses: 0 success, 1 the call failed (the D-Bus error's sentence is on
// stderr), 2 the command line was wrong.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct Invocation {
  sdbus::IConnection& bus;
  std::vector<std::string> args;  // after the subcommand's name
  std::ostream& out;
  std::ostream& err;
};

struct Command {
  const char* name;
  const char* usage;    // "status", "submit STREAM KEY=VALUE..."
  const char* summary;  // one line for --help
  // Returns the exit status. Throws sdbus::Error for a failed call; main prints
  // its sentence and exits 1.
  std::function<int(Invocation&)> run;
};

Command status_command();
Command config_command();
Command update_command();
Command submit_command();
Command alert_command();
Command serve_command();

}  // namespace tether::tetherctl
