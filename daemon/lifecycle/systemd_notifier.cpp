#include "daemon/lifecycle/systemd_notifier.hpp"

#include <systemd/sd-daemon.h>

namespace tether::daemon {

SystemdNotifier::SystemdNotifier() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
    watchdog_period_ = std::chrono::milliseconds(static_cast<long long>(usec / 2000));
  if (watchdog_period_.count() == 0 && usec > 0) watchdog_period_ = std::chrono::milliseconds(1);
}

void SystemdNotifier::ready() {
  sd_notify(0, "READY=1");
}

void SystemdNotifier::status(const std::string& sentence) {
  sd_notify(0, ("STATUS=" + sentence).c_str());
}

void SystemdNotifier::stopping() {
  sd_notify(0, "STOPPING=1");
}

void SystemdNotifier::watchdog() {
  sd_notify(0, "WATCHDOG=1");
}

}  // namespace tether::daemon
