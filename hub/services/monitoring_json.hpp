// msgpack values (protocol::Value) as JSON, for what the monitoring service stores
// and serves. bin becomes a base64 string; NaN and infinities become null (JSON
// has no words for them); map keys are quoted as strings.
#pragma once

#include <string>

#include "protocol/value.hpp"

namespace tether::hub {

std::string value_json(const protocol::Value& value);
std::string map_json(const protocol::Map& map);
// The same, appended to `out`: one string per record instead of one per value.
void append_value_json(std::string& out, const protocol::Value& value);
void append_map_json(std::string& out, const protocol::Map& map);

}  // namespace tether::hub
