#include "plugins/config/config_variant.hpp"

#include <cstdint>
#include <vector>

namespace tether::plugins::config {

sdbus::Variant to_variant(const protocol::Value& value) {
  if (auto b = value.as_bool()) return sdbus::Variant(*b);
  if (auto i = value.as_int()) return sdbus::Variant(*i);
  if (auto u = value.as_uint()) return sdbus::Variant(*u);  // only above INT64_MAX here
  if (auto d = value.as_float()) return sdbus::Variant(*d);
  if (const auto* s = value.as_str()) return sdbus::Variant(*s);
  if (const auto* bin = value.as_bin()) return sdbus::Variant(std::vector<std::uint8_t>(*bin));
  if (const auto* map = value.as_map()) return sdbus::Variant(to_variant_map(*map));
  std::vector<sdbus::Variant> items;
  if (const auto* array = value.as_array()) {
    items.reserve(array->size());
    for (const auto& item : *array) items.push_back(to_variant(item));
  }
  // An array, or a nested nil: D-Bus has no null, so nil becomes an empty `av`.
  return sdbus::Variant(items);
}

std::map<std::string, sdbus::Variant> to_variant_map(const protocol::Map& map) {
  std::map<std::string, sdbus::Variant> out;
  for (const auto& [key, value] : map) out.emplace(key, to_variant(value));
  return out;
}

}  // namespace tether::plugins::config
