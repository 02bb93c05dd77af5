// msgpack values as D-Bus variants, for io.tether.Config1 (docs/config.md): the
// inverse of Telemetry1's mapping (spec/dbus.md).
//
//   bool -> b, int -> x (t only above INT64_MAX), float -> d, str -> s, bin -> ay,
//   array -> av, map -> a{sv}, nil (only nested: a top-level nil deletes) -> av [].
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <string>

#include "protocol/value.hpp"

namespace tether::plugins::config {

sdbus::Variant to_variant(const protocol::Value& value);
std::map<std::string, sdbus::Variant> to_variant_map(const protocol::Map& map);

}  // namespace tether::plugins::config
