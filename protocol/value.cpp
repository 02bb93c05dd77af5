#include "protocol/value.hpp"

#include <limits>

namespace tether::protocol {

Value::Value(std::uint64_t u) {
  // One representation per number: anything that fits int64 is stored as int64, so
  // that equality does not depend on the width the peer happened to use.
  if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    v_ = static_cast<std::int64_t>(u);
  } else {
    v_ = u;
  }
}

std::optional<bool> Value::as_bool() const {
  if (const bool* b = std::get_if<bool>(&v_)) return *b;
  return std::nullopt;
}

std::optional<std::int64_t> Value::as_int() const {
  if (const std::int64_t* i = std::get_if<std::int64_t>(&v_)) return *i;
  // A uint64 alternative only ever holds values above INT64_MAX.
  return std::nullopt;
}

std::optional<std::uint64_t> Value::as_uint() const {
  if (const std::int64_t* i = std::get_if<std::int64_t>(&v_)) {
    if (*i < 0) return std::nullopt;
    return static_cast<std::uint64_t>(*i);
  }
  if (const std::uint64_t* u = std::get_if<std::uint64_t>(&v_)) return *u;
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (const double* d = std::get_if<double>(&v_)) return *d;
  return std::nullopt;
}

const Value* Value::find(std::string_view key) const {
  const Map* map = as_map();
  if (map == nullptr) return nullptr;
  return protocol::find(*map, key);
}

std::string_view type_name(const Value& value) {
  if (value.is_nil()) return "nil";
  if (value.is_bool()) return "bool";
  if (value.is_int()) return "int";
  if (value.is_float()) return "float";
  if (value.is_str()) return "str";
  if (value.is_bin()) return "bin";
  if (value.is_array()) return "array";
  return "map";
}

const Value* find(const Map& map, std::string_view key) {
  for (const auto& [k, v] : map) {
    if (k == key) return v.is_nil() ? nullptr : &v;
  }
  return nullptr;
}

void set(Map& map, std::string key, Value value) {
  for (auto& [k, v] : map) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  map.emplace_back(std::move(key), std::move(value));
}

}  // namespace tether::protocol
