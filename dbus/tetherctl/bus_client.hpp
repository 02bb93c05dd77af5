// tetherctl's side of the bus: opening the bus --bus names, and turning a D-Bus
// error into the sentence tetherctl prints.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <memory>
#include <string>

namespace tether::tetherctl {

enum class BusChoice { kSystem, kSession };

// Throws sdbus::Error when the bus cannot be reached.
std::unique_ptr<sdbus::IConnection> open_bus(BusChoice bus);

// The error's own sentence; for "nobody owns io.tether.Gateway1" a sentence that
// says tetherd is not running on that bus, followed by the bus's own words.
std::string describe(const sdbus::Error& error, BusChoice bus);

}  // namespace tether::tetherctl
