// tetherctl submit and tetherctl alert: io.tether.Telemetry1 from the command line.
// Each prints the seq of the stored record. A KEY=VALUE's value is an integer (x),
// a float (d), true/false (b) when it reads as one, else a string (s).
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <ostream>
#include <string>

#include "dbus/generated/telemetry1_proxy.h"
#include "dbus/interfaces/names.hpp"
#include "dbus/tetherctl/command.hpp"

namespace tether::tetherctl {
namespace {

class TelemetryProxy final : public sdbus::ProxyInterfaces<io::tether::Telemetry1_proxy> {
 public:
  explicit TelemetryProxy(sdbus::IConnection& bus)
      : ProxyInterfaces(bus, tether::dbus::kBusName, tether::dbus::kObjectPath) {}
};

sdbus::Variant typed(const std::string& text) {
  if (text == "true") return sdbus::Variant(true);
  if (text == "false") return sdbus::Variant(false);
  std::int64_t integer = 0;
  const char* end = text.data() + text.size();
  auto [at, error] = std::from_chars(text.data(), end, integer);
  if (!text.empty() && error == std::errc() && at == end) return sdbus::Variant(integer);
  if (!text.empty() && text.find_first_of(".eE") != std::string::npos &&
      text.find_first_not_of("0123456789+-.eE") == std::string::npos) {
    char* parsed_end = nullptr;
    const double number = std::strtod(text.c_str(), &parsed_end);
    if (parsed_end == text.c_str() + text.size()) return sdbus::Variant(number);
  }
  return sdbus::Variant(text);
}

// KEY=VALUE arguments from `first` on; false (after saying why) on a malformed one.
bool parse_pairs(Invocation& call, std::size_t first, std::map<std::string, sdbus::Variant>& out) {
  for (std::size_t i = first; i < call.args.size(); ++i) {
    const std::string& arg = call.args[i];
    const auto equals = arg.find('=');
    if (equals == std::string::npos || equals == 0) {
      call.err << "tetherctl: '" << arg << "' is not KEY=VALUE\n";
      return false;
    }
    out[arg.substr(0, equals)] = typed(arg.substr(equals + 1));
  }
  return true;
}

int run_submit(Invocation& call) {
  if (call.args.empty()) {
    call.err << "tetherctl: submit needs a STREAM and KEY=VALUE pairs\n";
    return kExitUsage;
  }
  std::map<std::string, sdbus::Variant> values;
  if (!parse_pairs(call, 1, values)) return kExitUsage;
  TelemetryProxy telemetry(call.bus);
  call.out << telemetry.Submit(call.args[0], values) << "\n";
  return kExitOk;
}

int run_alert(Invocation& call) {
  const std::string verb = call.args.empty() ? "" : call.args[0];
  if (verb == "raise") {
    if (call.args.size() < 4) {
      call.err << "tetherctl: alert raise needs ID SEVERITY SUMMARY [KEY=VALUE...]\n";
      return kExitUsage;
    }
    std::map<std::string, sdbus::Variant> details;
    if (!parse_pairs(call, 4, details)) return kExitUsage;
    TelemetryProxy telemetry(call.bus);
    call.out << telemetry.RaiseAlert(call.args[1], call.args[2], call.args[3], details) << "\n";
    return kExitOk;
  }
  if (verb == "clear") {
    if (call.args.size() != 2) {
      call.err << "tetherctl: alert clear needs exactly one ID\n";
      return kExitUsage;
    }
    TelemetryProxy telemetry(call.bus);
    call.out << telemetry.ClearAlert(call.args[1]) << "\n";
    return kExitOk;
  }
  call.err << "tetherctl: alert needs raise or clear\n";
  return kExitUsage;
}

}  // namespace

Command submit_command() {
  return {"submit", "submit STREAM KEY=VALUE...",
          "store a data record (ints, floats, true/false, else strings); prints its seq",
          run_submit};
}

Command alert_command() {
  return {"alert", "alert raise ID SEVERITY SUMMARY [KEY=VALUE...] | alert clear ID",
          "raise or clear an alert (severity: critical, major, minor, warning, info); prints "
          "its seq",
          run_alert};
}

}  // namespace tether::tetherctl
