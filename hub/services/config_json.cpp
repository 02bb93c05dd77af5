#include "hub/services/config_json.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "hub/json.hpp"
#include "hub/services/monitoring_json.hpp"
#include "protocol/codec.hpp"

namespace tether::hub::config_json {

namespace {

using Json = nlohmann::json;

Error invalid(const std::string& sentence) {
  return Error(ErrorCode::kInvalidArgument, sentence);
}

// The deepest nesting of [ and { in `text`, outside strings. Run before parsing,
// so that a hostile body never builds a deep tree.
std::size_t raw_nesting(std::string_view text) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Parses `text`; the error says where and why in words an operator can act on.
Result<Json> parse(std::string_view text, const char* what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    if (e.byte >= text.size()) {
      return invalid(std::string(what) + " is not complete JSON: it ends after " +
                     std::to_string(text.size()) + " bytes (truncated?)");
    }
    std::string why = e.what();
    if (auto colon = why.find("] "); colon != std::string::npos) why = why.substr(colon + 2);
    return invalid(std::string(what) + " is not valid JSON: " + why);
  }
}

// Depth of the deepest container in `json` (0 for a scalar).
std::size_t depth_of(const Json& json) {
  if (!json.is_structured()) return 0;
  std::size_t deepest = 0;
  for (const auto& item : json) deepest = std::max(deepest, depth_of(item));
  return deepest + 1;
}

protocol::Value to_value(const Json& json) {
  switch (json.type()) {
    case Json::value_t::boolean:
      return json.get<bool>();
    case Json::value_t::number_integer:
      return json.get<std::int64_t>();
    case Json::value_t::number_unsigned:
      return json.get<std::uint64_t>();
    case Json::value_t::number_float:
      return json.get<double>();
    case Json::value_t::string:
      return json.get<std::string>();
    case Json::value_t::array: {
      protocol::Array out;
      out.reserve(json.size());
      for (const auto& item : json) out.push_back(to_value(item));
      return out;
    }
    case Json::value_t::object: {
      protocol::Map out;
      out.reserve(json.size());
      for (const auto& [key, item] : json.items()) out.emplace_back(key, to_value(item));
      return out;
    }
    default:
      return nullptr;
  }
}

Json from_value(const protocol::Value& value) {
  if (value.is_nil()) return nullptr;
  if (auto b = value.as_bool()) return *b;
  if (const auto* u = std::get_if<std::uint64_t>(&value.storage())) return *u;
  if (auto i = value.as_int()) return *i;
  if (auto d = value.as_float()) {
    if (!std::isfinite(*d)) return nullptr;
    return *d;
  }
  if (const auto* s = value.as_str()) {
    // Invalid UTF-8 from a device must not make the answer unprintable.
    return Json::parse(json::quote(*s));
  }
  if (value.is_bin()) return Json::parse(value_json(value));  // base64
  if (const auto* array = value.as_array()) {
    Json out = Json::array();
    for (const auto& item : *array) out.push_back(from_value(item));
    return out;
  }
  Json out = Json::object();
  if (const auto* map = value.as_map()) {
    for (const auto& [key, item] : *map) {
      out[Json::parse(json::quote(key)).get<std::string>()] = from_value(item);
    }
  }
  return out;
}

Status check_document(const Json& document, const Limits& limits) {
  if (document.size() > limits.max_keys) {
    return invalid("the config would have " + std::to_string(document.size()) +
                   " keys, over the limit of " + std::to_string(limits.max_keys));
  }
  const auto size = protocol::encode_value(to_value(document)).size();
  if (size > limits.max_document) {
    return invalid("the config would take " + std::to_string(size) +
                   " bytes as msgpack, over the limit of " + std::to_string(limits.max_document));
  }
  return Status::Ok();
}

}  // namespace

Result<Push> parse_push(std::string_view body, const Limits& limits) {
  if (body.size() > limits.max_body) {
    return invalid("the body has " + std::to_string(body.size()) + " bytes, over the limit of " +
                   std::to_string(limits.max_body));
  }
  // The body object and `values` are two levels of their own.
  if (raw_nesting(body) > limits.max_depth + 2) {
    return invalid("values are nested deeper than " + std::to_string(limits.max_depth) +
                   " levels (the device's config.max-depth)");
  }
  auto parsed = parse(body, "the body");
  if (!parsed.ok()) return parsed.error();
  const Json& json = *parsed;
  if (!json.is_object()) {
    return invalid("the body must be a JSON object: {\"values\": {...}, \"replace\": true|false}");
  }
  Push push;
  const Json* values = nullptr;
  for (const auto& [key, item] : json.items()) {
    if (key == "values") {
      if (!item.is_object()) {
        return invalid(std::string("values must be a JSON object (the config's keys), not ") +
                       item.type_name());
      }
      for (const auto& [name, value] : item.items()) {
        if (name.size() > limits.max_key_bytes) {
          return invalid("key '" + name.substr(0, 32) + "...' is longer than " +
                         std::to_string(limits.max_key_bytes) + " bytes");
        }
        if (depth_of(value) > limits.max_depth) {
          return invalid("values." + name + ": nested deeper than " +
                         std::to_string(limits.max_depth) + " levels");
        }
      }
      values = &item;
    } else if (key == "replace") {
      if (!item.is_boolean()) {
        return invalid(std::string("replace must be true or false, not ") + item.type_name());
      }
      push.replace = item.get<bool>();
    } else if (key == "expect_version") {
      if (!item.is_number_unsigned() &&
          !(item.is_number_integer() && item.get<std::int64_t>() >= 0)) {
        return invalid("expect_version must be a non-negative integer");
      }
      push.expect_version = item.get<std::uint64_t>();
    } else {
      return invalid("unknown field '" + key.substr(0, 64) +
                     "' (the body has values, replace and expect_version)");
    }
  }
  if (values == nullptr) return invalid("values is missing: {\"values\": {...}}");
  push.values_json = values->dump();
  if (push.replace) {
    for (const auto& [name, value] : values->items()) {
      if (value.is_null()) {
        return invalid("values." + name +
                       ": null deletes a key in a merge; leave the key out of a replace");
      }
    }
  }
  return push;
}

Result<std::string> next_document(const std::string& base_json, const Push& push,
                                  const Limits& limits) {
  auto values = parse(push.values_json, "values");
  if (!values.ok()) return values.error();
  Json document;
  if (push.replace) {
    document = std::move(*values);
  } else {
    auto base = parse(base_json, "the stored config");
    if (!base.ok()) return base.error();
    document = base->is_object() ? std::move(*base) : Json::object();
    for (auto& [key, value] : values->items()) {
      if (value.is_null()) {
        document.erase(key);
      } else {
        document[key] = value;
      }
    }
  }
  if (auto s = check_document(document, limits); !s.ok()) return s.error();
  return document.dump();
}

Result<protocol::Map> to_msgpack(const std::string& document_json) {
  auto document = parse(document_json, "the stored config");
  if (!document.ok()) return document.error();
  if (!document->is_object()) return invalid("the stored config is not a JSON object");
  protocol::Map values;
  values.reserve(document->size());
  for (const auto& [key, item] : document->items()) values.emplace_back(key, to_value(item));
  return values;
}

std::string to_json(const protocol::Map& values) {
  return from_value(protocol::Value(values)).dump();
}

bool is_object(const std::string& json) {
  auto parsed = Json::parse(json, nullptr, false);
  return parsed.is_object();
}

}  // namespace tether::hub::config_json
