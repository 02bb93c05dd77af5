// Reading single fields of a decoded msgpack body in assertions, where a test wants
// to say "err is X" without going through a full schema (and so also checks bodies
// that a schema would refuse).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "protocol/value.hpp"

namespace tether::test {

inline std::optional<std::string> str_field(const protocol::Value& body, const char* key) {
  const protocol::Value* v = body.find(key);
  if (v == nullptr || v->as_str() == nullptr) return std::nullopt;
  return *v->as_str();
}

inline std::optional<std::uint64_t> uint_field(const protocol::Value& body, const char* key) {
  const protocol::Value* v = body.find(key);
  return v == nullptr ? std::nullopt : v->as_uint();
}

inline std::optional<bool> bool_field(const protocol::Value& body, const char* key) {
  const protocol::Value* v = body.find(key);
  return v == nullptr ? std::nullopt : v->as_bool();
}

inline std::optional<std::size_t> array_size(const protocol::Value& body, const char* key) {
  const protocol::Value* v = body.find(key);
  if (v == nullptr || v->as_array() == nullptr) return std::nullopt;
  return v->as_array()->size();
}

}  // namespace tether::test
