// tetherctl config watch: one JSON line per io.tether.Config1 Changed signal,
// flushed at once, for shell scripts that reload a service:
//   tetherctl config watch | while read -r change; do systemctl reload app; done
#include <iostream>
#include <ostream>

#include "dbus/tetherctl/config_proxy.hpp"
#include "dbus/tetherctl/variant_json.hpp"

namespace tether::tetherctl {
namespace {

class ConfigWatcher final : public sdbus::ProxyInterfaces<io::tether::Config1_proxy> {
 public:
  ConfigWatcher(sdbus::IConnection& bus, std::ostream& out)
      : ProxyInterfaces(bus, tether::dbus::kBusName, tether::dbus::kObjectPath), out_(out) {
    registerProxy();
  }
  ~ConfigWatcher() { unregisterProxy(); }
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

 private:
  void onChanged(const std::uint64_t& version, const std::map<std::string, sdbus::Variant>& values,
                 const std::vector<std::string>& removed) override {
    out_ << "{\"version\":" << version << ",\"values\":" << to_json(values) << ",\"removed\":[";
    for (std::size_t i = 0; i < removed.size(); ++i)
      out_ << (i == 0 ? "" : ",") << json_string(removed[i]);
    out_ << "]}" << std::endl;  // flushed: the reader acts on each line as it comes
  }

  std::ostream& out_;
};

}  // namespace

int run_config_watch(Invocation& call) {
  if (!call.args.empty()) {
    call.err << "tetherctl: config watch takes no arguments\n";
    return kExitUsage;
  }
  ConfigWatcher watcher(call.bus, call.out);
  // The match is in place: say so on stderr, so a script (or a test) knows that
  // no change from now on is missed.
  call.err << "tetherctl: watching config changes" << std::endl;
  call.bus.enterEventLoop();
  return kExitOk;
}

}  // namespace tether::tetherctl
