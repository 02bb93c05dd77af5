// io.tether.Config1 as tetherctl calls it, and the `config` subcommands.
#pragma once

#include "dbus/generated/config1_proxy.h"
#include "dbus/interfaces/names.hpp"
#include "dbus/tetherctl/command.hpp"

namespace tether::tetherctl {

class ConfigProxy final : public sdbus::ProxyInterfaces<io::tether::Config1_proxy> {
 public:
  explicit ConfigProxy(sdbus::IConnection& bus)
      : ProxyInterfaces(bus, tether::dbus::kBusName, tether::dbus::kObjectPath) {}

 private:
  void onChanged(const std::uint64_t& /*version*/,
                 const std::map<std::string, sdbus::Variant>& /*values*/,
                 const std::vector<std::string>& /*removed*/) override {}
};

int run_config_get(Invocation& call);    // config_get_command.cpp
int run_config_watch(Invocation& call);  // config_watch_command.cpp

}  // namespace tether::tetherctl
