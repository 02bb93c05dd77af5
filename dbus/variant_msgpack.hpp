// The Telemetry1 variant mapping (spec/dbus.md), both directions, for every
// interface that carries an `a{sv}` between apps and the backend (Telemetry1's
// values and details, Commands1's args and ret):
//
//   D-Bus -> msgpack: b -> bool; y n q i u x t -> int; d -> float64; s o g -> str;
//   ay -> bin; other arrays -> array; a{sv} and other dicts with string keys -> map.
//   Anything else (structs, fds, dicts with other keys) -> kInvalidArgument.
//   msgpack -> D-Bus: bool -> b; int -> x (t above INT64_MAX); float -> d; str -> s;
//   bin -> ay; array -> av; map -> a{sv}; nil -> left out of maps, an empty av in arrays.
//
// sdbus-c++ 1.2 gives no way to walk a Variant of unknown type except through a
// message, so the reading side serializes each variant into a plain message and
// walks that. Library target tether::dbus_variant: the one mapping shared by the
// daemon's services (Telemetry1, Commands1, Config1) and tetherctl.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <functional>
#include <map>
#include <string>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::dbus {

// Bounds on what one conversion accepts from a caller.
struct VariantLimits {
  std::size_t max_depth = 32;
  std::size_t max_elements = 65536;  // values of every level together
};

// `where` names the value in error sentences: "values.temp", then "values.temp[2]"
// and "values.temp.key" below it. Every refusal is kInvalidArgument.
Result<protocol::Value> variant_to_value(const sdbus::Variant& variant, const std::string& where,
                                         const VariantLimits& limits = {});
// Each entry named where.KEY; the limits hold for the map as a whole.
Result<protocol::Map> variants_to_map(const std::map<std::string, sdbus::Variant>& values,
                                      const std::string& where, const VariantLimits& limits = {});

sdbus::Variant value_to_variant(const protocol::Value& value);
std::map<std::string, sdbus::Variant> map_to_variants(const protocol::Map& map);

}  // namespace tether::dbus
