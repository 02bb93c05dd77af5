// A private dbus-daemon for one test: a session-like bus on a socket in its own
// temporary directory, started by the test and killed (with everything it owns)
// when the object goes away. Nothing of the machine's buses is touched.
//
// export_address() points DBUS_SESSION_BUS_ADDRESS of the test process at it, so
// that every program the test starts afterwards (tetherd --dbus.bus=session,
// busctl --user, gdbus --session, tetherctl --bus session) finds this bus.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "protocol/result.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace tether::test {

class PrivateBus {
 public:
  // Starts dbus-daemon and waits until it accepts connections.
  static Result<std::unique_ptr<PrivateBus>> start();
  ~PrivateBus();
  PrivateBus(const PrivateBus&) = delete;
  PrivateBus& operator=(const PrivateBus&) = delete;

  // "unix:path=/tmp/.../bus,guid=..."
  const std::string& address() const { return address_; }
  // Sets DBUS_SESSION_BUS_ADDRESS for this process and every child it starts later.
  void export_address() const;

  // Runs a client (busctl, gdbus, tetherctl) to completion: its exit status and its
  // stdout and stderr together.
  Result<CompletedProcess> run(const std::string& binary, const std::vector<std::string>& args,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  PrivateBus() = default;
  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::string address_;
};

}  // namespace tether::test
