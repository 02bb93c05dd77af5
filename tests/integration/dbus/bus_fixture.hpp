// The fixture of the D-Bus tests: DaemonTest (certificates, token, TLS test server)
// plus a private dbus-daemon whose address every program the test starts uses.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/daemon/daemon_fixture.hpp"
#include "tests/support/private_bus.hpp"

namespace tether::test {

class BusTest : public DaemonTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // tetherd on the private bus (--dbus.bus=session), waiting until it owns its name.
  DaemonProcess& start_on_bus(const std::vector<std::string>& extra = {});

  // Runs busctl against the private bus: busctl --user ARGS.
  CompletedProcess busctl(const std::vector<std::string>& args);
  // gdbus ARGS (the caller passes --session where gdbus wants it).
  CompletedProcess gdbus(const std::vector<std::string>& args);
  CompletedProcess tetherctl(const std::vector<std::string>& args);
  // One Gateway1 property as busctl prints it ("s \"online\"").
  std::string property(const std::string& name);
  // Waits until property `name` reads `value` (busctl's form).
  bool wait_for_property(const std::string& name, const std::string& value,
                         std::chrono::milliseconds timeout);

  std::unique_ptr<PrivateBus> bus_;

 private:
  CompletedProcess run(const std::string& binary, const std::vector<std::string>& args);
};

}  // namespace tether::test
