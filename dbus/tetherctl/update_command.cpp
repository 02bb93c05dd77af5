// tetherctl update respond ID yes|no: consent (or not) to an update that waits in
// awaiting-consent, through io.tether.Update1.Respond.
#include <ostream>

#include "dbus/generated/update1_proxy.h"
#include "dbus/interfaces/names.hpp"
#include "dbus/tetherctl/command.hpp"

namespace tether::tetherctl {
namespace {

class UpdateProxy final : public sdbus::ProxyInterfaces<io::tether::Update1_proxy> {
 public:
  explicit UpdateProxy(sdbus::IConnection& bus)
      : ProxyInterfaces(bus, tether::dbus::kBusName, tether::dbus::kObjectPath) {}

 private:
  // tetherctl only calls Respond; it does not listen for the signal.
  void onConsentRequested(const std::string& /*id*/, const std::string& /*version*/,
                          const std::string& /*message*/) override {}
};

int run_update(Invocation& call) {
  const auto& a = call.args;
  if (a.size() != 3 || a[0] != "respond" || (a[2] != "yes" && a[2] != "no") || a[1].empty()) {
    call.err << "tetherctl: usage: update respond ID yes|no\n";
    return kExitUsage;
  }
  UpdateProxy update(call.bus);
  update.Respond(a[1], a[2] == "yes");
  return kExitOk;
}

}  // namespace

Command update_command() {
  return {"update", "update respond ID yes|no",
          "consent to (yes) or refuse (no) an update that awaits consent", run_update};
}

}  // namespace tether::tetherctl
