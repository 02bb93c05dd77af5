// sd_notify(3) for tetherd: READY, STATUS, WATCHDOG and STOPPING. Does nothing when
// the daemon does not run under systemd (NOTIFY_SOCKET unset), so main calls it
// unconditionally.
#pragma once

#include <chrono>
#include <string>

namespace tether::daemon {

class SystemdNotifier {
 public:
  SystemdNotifier();

  void ready();
  void status(const std::string& sentence);
  void stopping();
  void watchdog();
  // How often to send WATCHDOG=1 (half of WATCHDOG_USEC), or zero when systemd
  // did not ask for a watchdog.
  std::chrono::milliseconds watchdog_period() const { return watchdog_period_; }

 private:
  std::chrono::milliseconds watchdog_period_{0};
};

}  // namespace tether::daemon
