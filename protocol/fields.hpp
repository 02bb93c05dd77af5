// Reading the fields of a msgpack map body with uniform, leniently typed rules:
// unknown keys are ignored, nil counts as absent, integers of any width are
// accepted when they fit, and a wrong type is an error that names the field.
// Every body schema decodes through this, so all of them fail the same way.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol {

// Decodes a body that must be one msgpack map (tether's own protocols and control).
Result<Map> decode_body_map(std::span<const std::uint8_t> body, const DecodeLimits& limits = {});

// Reads fields out of one map. The getters never fail loudly: they record the
// first problem and return an empty value, so a schema decoder reads every field in
// sequence and checks status() once at the end. Getters move the field's value out
// of the map (a large config `values` is not copied), so read each key once.
class FieldReader {
 public:
  explicit FieldReader(Map& map) : map_(map) {}

  // Required fields: "missing" when absent or nil.
  std::string str(std::string_view key);
  std::uint64_t uint(std::string_view key);
  std::int64_t int64(std::string_view key);
  bool boolean(std::string_view key);
  Map map(std::string_view key);
  Array array(std::string_view key);

  // Optional fields: nullopt when absent or nil, an error when of another type.
  std::optional<std::string> opt_str(std::string_view key);
  std::optional<std::uint64_t> opt_uint(std::string_view key);
  std::optional<bool> opt_bool(std::string_view key);
  std::optional<Bytes> opt_bin(std::string_view key);
  std::optional<Map> opt_map(std::string_view key);

  // Records a validation failure about `key` found by the schema itself.
  void fail(std::string_view key, const std::string& problem);

  // The first failure, as "<key>: <problem>", or ok.
  Status status() const;

 private:
  // Looks `key` up and converts it with `convert` (a Value -> std::optional<T>);
  // records "missing" or a type mismatch naming `expected`.
  template <typename T, typename Convert>
  std::optional<T> read(std::string_view key, bool required, std::string_view expected,
                        Convert convert);

  Map& map_;
  std::optional<std::string> error_;
};

// "expected an unsigned integer, got str": the wording every type error uses.
std::string type_mismatch(std::string_view expected, const Value& got);

// "\"loud\" is not one of critical major ...": the wording for a value outside its set.
std::string not_one_of(std::string_view value, std::initializer_list<std::string_view> allowed);

// The shape of every body schema's decode(): the body must be a map; `read` fills a
// T from a FieldReader; the first failure comes back prefixed with `context`
// ("config set: values: expected a map, got array").
template <typename T, typename Read>
Result<T> decode_schema(std::span<const std::uint8_t> body, const DecodeLimits& limits,
                        const std::string& context, Read read) {
  Result<Map> map = decode_body_map(body, limits);
  if (!map) return map.error().wrap(context);
  FieldReader fields(map.value());
  T out = read(fields);
  if (tether::Status status = fields.status(); !status) return status.error().wrap(context);
  return out;
}

}  // namespace tether::protocol
