// Rendering D-Bus variants for people and scripts: JSON (tetherctl config get
// --json, config watch) and a readable form (tetherctl config get).
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <string>

namespace tether::tetherctl {

// JSON for the signatures Config1 produces (b, integers, d, s/o/g, ay as an array
// of numbers, av and other arrays, a{sv}); anything else becomes a JSON string
// naming its signature. Non-finite doubles become null.
std::string to_json(const sdbus::Variant& value);
std::string to_json(const std::map<std::string, sdbus::Variant>& values);
// A JSON string literal.
std::string json_string(const std::string& text);
// As to_json, but a top-level string is printed as it is (no quotes, no escapes).
std::string to_readable(const sdbus::Variant& value);

}  // namespace tether::tetherctl
