// tetherctl config get [KEY] [--json]: the config tetherd holds (io.tether.Config1).
#include <ostream>

#include "dbus/tetherctl/config_proxy.hpp"
#include "dbus/tetherctl/variant_json.hpp"

namespace tether::tetherctl {

int run_config_get(Invocation& call) {
  bool json = false;
  std::vector<std::string> keys;
  for (const std::string& arg : call.args) {
    if (arg == "--json") {
      json = true;
    } else if (!arg.empty() && arg[0] == '-') {
      call.err << "tetherctl: config get: unknown option '" << arg << "'\n";
      return kExitUsage;
    } else {
      keys.push_back(arg);
    }
  }
  if (keys.size() > 1) {
    call.err << "tetherctl: config get takes at most one KEY\n";
    return kExitUsage;
  }
  ConfigProxy config(call.bus);
  if (!keys.empty()) {
    const sdbus::Variant value = config.Get(keys.front());
    call.out << (json ? to_json(value) : to_readable(value)) << "\n";
    return kExitOk;
  }
  const std::uint64_t version = config.Version();
  const auto values = config.GetAll();
  if (json) {
    call.out << "{\"version\":" << version << ",\"values\":" << to_json(values) << "}\n";
    return kExitOk;
  }
  call.out << "Version: " << version << "\n";
  for (const auto& [key, value] : values) call.out << key << " = " << to_json(value) << "\n";
  return kExitOk;
}

}  // namespace tether::tetherctl
