#include "hub/services/monitoring_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <variant>

#include "hub/json.hpp"

namespace tether::hub {

namespace {

std::string base64(const protocol::Bytes& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16U) | (std::uint32_t{bytes[i + 1]} << 8U) |
                            std::uint32_t{bytes[i + 2]};
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63U];
  }
  if (i + 1 == bytes.size()) {
    const std::uint32_t n = std::uint32_t{bytes[i]} << 16U;
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16U) | (std::uint32_t{bytes[i + 1]} << 8U);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += '=';
  }
  return out;
}

std::string number(double d) {
  if (!std::isfinite(d)) return "null";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string value_json(const protocol::Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return number(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return json::quote(v);
        } else if constexpr (std::is_same_v<T, protocol::Bytes>) {
          return json::quote(base64(v));
        } else if constexpr (std::is_same_v<T, protocol::Array>) {
          std::string out = "[";
          for (const auto& item : v) {
            if (out.size() > 1) out += ",";
            out += value_json(item);
          }
          return out + "]";
        } else {
          return map_json(v);
        }
      },
      value.storage());
}

std::string map_json(const protocol::Map& map) {
  std::string out = "{";
  for (const auto& [key, item] : map) {
    if (out.size() > 1) out += ",";
    out += json::quote(key) + ":" + value_json(item);
  }
  return out + "}";
}

}  // namespace tether::hub
