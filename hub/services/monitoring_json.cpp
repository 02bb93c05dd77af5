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

void append_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

template <typename Int>
void append_integer(std::string& out, Int i) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, r.ptr);
}

}  // namespace

void append_value_json(std::string& out, const protocol::Value& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
          append_integer(out, v);
        } else if constexpr (std::is_same_v<T, double>) {
          append_number(out, v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          json::append_quoted(out, v);
        } else if constexpr (std::is_same_v<T, protocol::Bytes>) {
          json::append_quoted(out, base64(v));
        } else if constexpr (std::is_same_v<T, protocol::Array>) {
          out.push_back('[');
          bool first = true;
          for (const auto& item : v) {
            if (!first) out.push_back(',');
            first = false;
            append_value_json(out, item);
          }
          out.push_back(']');
        } else {
          append_map_json(out, v);
        }
      },
      value.storage());
}

void append_map_json(std::string& out, const protocol::Map& map) {
  out.push_back('{');
  bool first = true;
  for (const auto& [key, item] : map) {
    if (!first) out.push_back(',');
    first = false;
    json::append_quoted(out, key);
    out.push_back(':');
    append_value_json(out, item);
  }
  out.push_back('}');
}

std::string value_json(const protocol::Value& value) {
  std::string out;
  append_value_json(out, value);
  return out;
}

std::string map_json(const protocol::Map& map) {
  std::string out;
  append_map_json(out, map);
  return out;
}

}  // namespace tether::hub
