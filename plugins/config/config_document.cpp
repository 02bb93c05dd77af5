#include "plugins/config/config_document.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "protocol/codec.hpp"

namespace tether::plugins::config {
namespace {

using protocol::Map;
using protocol::Value;

// Depth of the deepest container in `value` (0 for a scalar), stopping early
// once `limit` is passed so a hostile value costs no more than it must.
std::size_t depth_of(const Value& value, std::size_t limit) {
  std::size_t deepest = 0;
  if (const auto* array = value.as_array()) {
    for (const Value& item : *array) {
      deepest = std::max(deepest, depth_of(item, limit));
      if (deepest > limit) break;
    }
    return deepest + 1;
  }
  if (const auto* map = value.as_map()) {
    for (const auto& [key, item] : *map) {
      deepest = std::max(deepest, depth_of(item, limit));
      if (deepest > limit) break;
    }
    return deepest + 1;
  }
  return 0;
}

}  // namespace

protocol::Bytes ConfigDocument::encode() const {
  return protocol::ConfigCurrent{version, values}.encode();
}

Result<ConfigDocument> ConfigDocument::decode(const protocol::Bytes& bytes) {
  Result<protocol::ConfigCurrent> current = protocol::ConfigCurrent::decode(bytes);
  if (!current) return current.error().wrap("stored config");
  return ConfigDocument{current->version, std::move(current->values)};
}

Status check_values(const Map& values, const ConfigLimits& limits) {
  for (const auto& [key, value] : values) {
    if (depth_of(value, limits.max_depth) > limits.max_depth)
      return Error(ErrorCode::kInvalidArgument, "values." + key +
                                                    ": nested deeper than config.max-depth (" +
                                                    std::to_string(limits.max_depth) + ")");
  }
  std::unordered_set<std::string_view> seen;
  for (const auto& [key, value] : values) {
    if (!seen.insert(key).second)
      return Error(ErrorCode::kInvalidArgument, "values: key '" + key + "' given twice");
  }
  return {};
}

Result<ConfigChange> apply_set(const ConfigDocument& current, const protocol::ConfigSet& set,
                               const ConfigLimits& limits) {
  if (Status ok = check_values(set.values, limits); !ok) return ok.error();
  ConfigChange change;
  change.next.version = set.version;
  // Indexes by key, so that a set of many keys costs n log n, not n squared.
  std::unordered_map<std::string_view, std::size_t> old_index;
  for (std::size_t i = 0; i < current.values.size(); ++i) old_index[current.values[i].first] = i;
  if (set.replace.value_or(false)) {
    std::unordered_set<std::string_view> kept;
    for (const auto& [key, value] : set.values) {
      if (value.is_nil()) continue;
      change.next.values.emplace_back(key, value);
      kept.insert(key);
      auto old = old_index.find(key);
      if (old == old_index.end() || !(current.values[old->second].second == value))
        change.changed.emplace_back(key, value);
    }
    for (const auto& [key, value] : current.values) {
      if (!kept.contains(key)) change.removed.push_back(key);
    }
  } else {
    std::vector<bool> gone(current.values.size(), false);
    Map added;
    Map updated = current.values;
    for (const auto& [key, value] : set.values) {
      auto old = old_index.find(key);
      if (value.is_nil()) {
        if (old != old_index.end()) {
          gone[old->second] = true;
          change.removed.push_back(key);
        }
        continue;
      }
      if (old == old_index.end()) {
        added.emplace_back(key, value);
      } else if (updated[old->second].second == value) {
        continue;
      } else {
        updated[old->second].second = value;
      }
      change.changed.emplace_back(key, value);
    }
    for (std::size_t i = 0; i < updated.size(); ++i) {
      if (!gone[i]) change.next.values.push_back(std::move(updated[i]));
    }
    for (auto& entry : added) change.next.values.push_back(std::move(entry));
  }
  const std::size_t size = change.next.encode().size();
  if (size > limits.max_bytes)
    return Error(ErrorCode::kInvalidArgument, "the config would take " + std::to_string(size) +
                                                  " bytes, over config.max-bytes (" +
                                                  std::to_string(limits.max_bytes) + ")");
  return change;
}

}  // namespace tether::plugins::config
