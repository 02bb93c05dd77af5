#include "dbus/tetherctl/bus_client.hpp"

#include "dbus/interfaces/names.hpp"

namespace tether::tetherctl {

std::unique_ptr<sdbus::IConnection> open_bus(BusChoice bus) {
  return bus == BusChoice::kSystem ? sdbus::createSystemBusConnection()
                                   : sdbus::createSessionBusConnection();
}

std::string describe(const sdbus::Error& error, BusChoice bus) {
  std::string sentence = error.getMessage().empty() ? error.getName() : error.getMessage();
  if (error.getName() == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      error.getName() == "org.freedesktop.DBus.Error.NameHasNoOwner") {
    return std::string("tetherd is not running on the ") +
           (bus == BusChoice::kSystem ? "system" : "session") + " bus (" + sentence + ")";
  }
  return sentence;
}

}  // namespace tether::tetherctl
