// The names of tether's D-Bus API (spec/dbus.md) that the daemon, its plugins,
// tetherctl and the tests share. The interface names themselves come with the
// generated code (e.g. io::tether::Gateway1_adaptor::INTERFACE_NAME).
#pragma once

#include <span>

namespace tether::dbus {

// The well-known name tetherd owns.
inline constexpr const char* kBusName = "io.tether.Gateway1";
// The one object every tether interface lives on.
inline constexpr const char* kObjectPath = "/io/tether/Gateway1";
// Prefix of every error tether returns: io.tether.Error.<Name>.
inline constexpr const char* kErrorPrefix = "io.tether.Error.";

// Every interface generated from the XML in dbus/ (tether's five and Mender's).
std::span<const char* const> generated_interfaces();

}  // namespace tether::dbus
