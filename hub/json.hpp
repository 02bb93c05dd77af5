// Just enough JSON for the UI's API: string escaping for the responses, and a
// parser for flat objects of string values (the login body). Bounded and strict.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace tether::hub::json {

// `s` as a JSON string literal, quotes included. Invalid UTF-8 bytes become U+FFFD.
std::string quote(std::string_view s);
// The same, appended to `out` (no string of its own: the monitoring intake quotes
// every key of every record).
void append_quoted(std::string& out, std::string_view s);

// Parses `{"k": "v", ...}`; any other value type, a duplicate key or trailing
// garbage is an error.
Result<std::map<std::string, std::string>> parse_flat_object(std::string_view text);

}  // namespace tether::hub::json
