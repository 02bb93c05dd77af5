// tetherctl: a small command-line client of tetherd's D-Bus API (spec/dbus.md),
// for scripts and people. Synchronous calls: a command-line tool has nothing else
// to do while it waits.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "dbus/tetherctl/bus_client.hpp"
#include "dbus/tetherctl/command.hpp"

namespace tether::tetherctl {
namespace {

// Every subcommand, in --help order. Adding one is a file plus a line here.
std::vector<Command> commands() {
  return {status_command(), submit_command(), alert_command(),
          config_command(), update_command(), serve_command()};
}

void print_help(std::ostream& out) {
  out << "usage: tetherctl [--bus system|session] COMMAND [ARG...]\n"
         "\n"
         "A client of tetherd's D-Bus API (io.tether.Gateway1).\n"
         "\n"
         "Options:\n"
         "  --bus system|session  the bus tetherd is on [system]\n"
         "  --help                print this help and exit\n"
         "\n"
         "Commands:\n";
  for (const auto& command : commands())
    out << "  " << command.usage << "\n      " << command.summary << "\n";
  out << "\nExit status: 0 on success, 1 when the call failed (the reason is on stderr),\n"
         "2 for a wrong command line.\n";
}

int usage_error(const std::string& sentence) {
  std::cerr << "tetherctl: " << sentence << "\n(try tetherctl --help)\n";
  return kExitUsage;
}

int run(int argc, char** argv) {
  BusChoice bus = BusChoice::kSystem;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_help(std::cout);
      return kExitOk;
    }
    std::string value;
    if (arg == "--bus") {
      if (i + 1 >= argc) return usage_error("--bus needs a value: system or session");
      value = argv[++i];
    } else if (arg.rfind("--bus=", 0) == 0) {
      value = arg.substr(6);
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error("unknown option '" + arg + "'");
    } else {
      break;
    }
    if (value == "system") {
      bus = BusChoice::kSystem;
    } else if (value == "session") {
      bus = BusChoice::kSession;
    } else {
      return usage_error("--bus: unknown bus '" + value + "' (system or session)");
    }
  }
  if (i >= argc) return usage_error("no command given");
  const std::string name = argv[i];
  for (const auto& command : commands()) {
    if (name != command.name) continue;
    try {
      auto connection = open_bus(bus);
      Invocation call{*connection, std::vector<std::string>(argv + i + 1, argv + argc), std::cout,
                      std::cerr};
      return command.run(call);
    } catch (const sdbus::Error& error) {
      std::cerr << "tetherctl: " << describe(error, bus) << "\n";
      return kExitFailed;
    }
  }
  return usage_error("unknown command '" + name + "'");
}

}  // namespace
}  // namespace tether::tetherctl

int main(int argc, char** argv) {
  return tether::tetherctl::run(argc, argv);
}
