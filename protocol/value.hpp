// A dynamically typed msgpack value: what props, monitoring values and config
// values are made of. Map keys are strings: every map on tether's wire is keyed by
// name, and a non-string key is a decode error rather than a silent conversion.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tether::protocol {

using Bytes = std::vector<std::uint8_t>;

class Value;
using Array = std::vector<Value>;
// Insertion-ordered, so that encoding is deterministic and matches what was decoded.
using Map = std::vector<std::pair<std::string, Value>>;

class Value {
 public:
  // Integers are kept as int64 when they fit, else as uint64 (only values above
  // INT64_MAX), so that any msgpack integer width round-trips its numeric value.
  using Storage = std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double,
                               std::string, Bytes, Array, Map>;

  Value() = default;
  Value(std::nullptr_t) {}                      // NOLINT: implicit
  Value(bool b) : v_(b) {}                      // NOLINT
  Value(int i) : v_(std::int64_t{i}) {}         // NOLINT
  Value(std::int64_t i) : v_(i) {}              // NOLINT
  Value(std::uint64_t u);                       // NOLINT
  Value(double d) : v_(d) {}                    // NOLINT
  Value(const char* s) : v_(std::string(s)) {}  // NOLINT
  Value(std::string s) : v_(std::move(s)) {}    // NOLINT
  Value(Bytes b) : v_(std::move(b)) {}          // NOLINT
  Value(Array a) : v_(std::move(a)) {}          // NOLINT
  Value(Map m) : v_(std::move(m)) {}            // NOLINT

  bool is_nil() const { return std::holds_alternative<std::monostate>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_int() const {
    return std::holds_alternative<std::int64_t>(v_) || std::holds_alternative<std::uint64_t>(v_);
  }
  bool is_float() const { return std::holds_alternative<double>(v_); }
  bool is_str() const { return std::holds_alternative<std::string>(v_); }
  bool is_bin() const { return std::holds_alternative<Bytes>(v_); }
  bool is_array() const { return std::holds_alternative<Array>(v_); }
  bool is_map() const { return std::holds_alternative<Map>(v_); }

  // Typed accessors: nullopt / nullptr when the value has another type or does
  // not fit. as_int accepts any integer that fits int64; as_uint any non-negative one.
  std::optional<bool> as_bool() const;
  std::optional<std::int64_t> as_int() const;
  std::optional<std::uint64_t> as_uint() const;
  std::optional<double> as_float() const;  // floats only; integers are not promoted
  const std::string* as_str() const { return std::get_if<std::string>(&v_); }
  std::string* as_str() { return std::get_if<std::string>(&v_); }
  const Bytes* as_bin() const { return std::get_if<Bytes>(&v_); }
  Bytes* as_bin() { return std::get_if<Bytes>(&v_); }
  const Array* as_array() const { return std::get_if<Array>(&v_); }
  Array* as_array() { return std::get_if<Array>(&v_); }
  const Map* as_map() const { return std::get_if<Map>(&v_); }
  Map* as_map() { return std::get_if<Map>(&v_); }

  // Looks a key up when this is a map; nullptr when absent, nil, or not a map.
  const Value* find(std::string_view key) const;

  const Storage& storage() const { return v_; }
  friend bool operator==(const Value&, const Value&) = default;

 private:
  Storage v_;
};

// The msgpack type of `value` as error messages name it: nil, bool, int, float, str,
// bin, array or map.
std::string_view type_name(const Value& value);

// Finds `key` in a map; nullptr when absent or nil (nil counts as absent on the wire).
const Value* find(const Map& map, std::string_view key);
// Sets `key`, replacing an existing entry in place or appending a new one.
void set(Map& map, std::string key, Value value);

}  // namespace tether::protocol
