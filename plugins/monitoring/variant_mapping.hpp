// The Telemetry1 variant mapping (spec/dbus.md): what a local app hands over as D-Bus
// variants, as the msgpack values records carry. b -> bool; y n q i u x t -> int;
// d -> float64; s o g -> str; ay -> bin; any other array -> array; a dict whose keys
// are strings (s, o or g) -> map, its values mapped the same way; a variant inside a
// variant is unwrapped. Anything else (a struct, a unix fd, a dict keyed by a number)
// is kInvalidArgument with a sentence naming the D-Bus type and where it was.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <string>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::plugins::monitoring {

// `where` names the value in error sentences ("values.temp").
Result<protocol::Value> variant_to_value(const sdbus::Variant& variant, const std::string& where);

// An a{sv} argument as a msgpack map, keys in their (sorted) D-Bus order.
Result<protocol::Map> variants_to_map(const std::map<std::string, sdbus::Variant>& variants,
                                      const std::string& where);

}  // namespace tether::plugins::monitoring
