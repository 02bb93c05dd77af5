#include "dbus/tetherctl/variant_json.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <vector>

namespace tether::tetherctl {
namespace {

std::string number(double d) {
  if (!std::isfinite(d)) return "null";
  std::ostringstream out;
  out.precision(17);
  out << d;
  return out.str();
}

template <typename T>
std::string array_of(const sdbus::Variant& value) {
  std::string out = "[";
  bool first = true;
  for (const auto& item : value.get<std::vector<T>>()) {
    if (!first) out += ",";
    first = false;
    if constexpr (std::is_same_v<T, sdbus::Variant>) {
      out += to_json(item);
    } else if constexpr (std::is_same_v<T, std::string>) {
      out += json_string(item);
    } else if constexpr (std::is_same_v<T, double>) {
      out += number(item);
    } else if constexpr (std::is_same_v<T, bool>) {
      out += item ? "true" : "false";
    } else {
      out += std::to_string(item);
    }
  }
  return out + "]";
}

}  // namespace

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string to_json(const sdbus::Variant& value) {
  const std::string type = value.peekValueType();
  if (type == "b") return value.get<bool>() ? "true" : "false";
  if (type == "y") return std::to_string(value.get<std::uint8_t>());
  if (type == "n") return std::to_string(value.get<std::int16_t>());
  if (type == "q") return std::to_string(value.get<std::uint16_t>());
  if (type == "i") return std::to_string(value.get<std::int32_t>());
  if (type == "u") return std::to_string(value.get<std::uint32_t>());
  if (type == "x") return std::to_string(value.get<std::int64_t>());
  if (type == "t") return std::to_string(value.get<std::uint64_t>());
  if (type == "d") return number(value.get<double>());
  if (type == "s") return json_string(value.get<std::string>());
  if (type == "o") return json_string(value.get<sdbus::ObjectPath>());
  if (type == "g") return json_string(value.get<sdbus::Signature>());
  if (type == "v") return to_json(value.get<sdbus::Variant>());
  if (type == "ay") return array_of<std::uint8_t>(value);
  if (type == "av") return array_of<sdbus::Variant>(value);
  if (type == "as") return array_of<std::string>(value);
  if (type == "ab") return array_of<bool>(value);
  if (type == "ax") return array_of<std::int64_t>(value);
  if (type == "at") return array_of<std::uint64_t>(value);
  if (type == "ai") return array_of<std::int32_t>(value);
  if (type == "ad") return array_of<double>(value);
  if (type == "a{sv}") return to_json(value.get<std::map<std::string, sdbus::Variant>>());
  return json_string("<D-Bus type " + type + ">");
}

std::string to_json(const std::map<std::string, sdbus::Variant>& values) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : values) {
    if (!first) out += ",";
    first = false;
    out += json_string(key) + ":" + to_json(value);
  }
  return out + "}";
}

std::string to_readable(const sdbus::Variant& value) {
  if (value.peekValueType() == "s") return value.get<std::string>();
  return to_json(value);
}

}  // namespace tether::tetherctl
