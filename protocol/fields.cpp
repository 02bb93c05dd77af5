#include "protocol/fields.hpp"

#include <utility>

#include "protocol/codec.hpp"

namespace tether::protocol {

Result<Map> decode_body_map(std::span<const std::uint8_t> body, const DecodeLimits& limits) {
  if (body.empty()) return Error(ErrorCode::kProtocol, "body: missing (expected a msgpack map)");
  Result<Value> decoded = decode_value(body, limits);
  if (!decoded) return decoded.error().wrap("body");
  Map* map = decoded->as_map();
  if (map == nullptr)
    return Error(ErrorCode::kProtocol, "body: " + type_mismatch("a map", *decoded));
  return std::move(*map);
}

std::string type_mismatch(std::string_view expected, const Value& got) {
  std::string message = "expected " + std::string(expected) + ", got ";
  if (auto i = got.as_int(); i && *i < 0) return message + "negative int " + std::to_string(*i);
  return message + std::string(type_name(got));
}

// Appended piece by piece: `"literal" + std::string` here made GCC 12 report a
// -Wrestrict false positive at -O3 (GCC PR 105329).
std::string not_one_of(std::string_view value, std::initializer_list<std::string_view> allowed) {
  std::string message = "\"";
  message += value;
  message += "\" is not one of";
  for (std::string_view a : allowed) {
    message += ' ';
    message += a;
  }
  return message;
}

template <typename T, typename Convert>
std::optional<T> FieldReader::read(std::string_view key, bool required, std::string_view expected,
                                   Convert convert) {
  Value* value = nullptr;
  for (auto& entry : map_) {
    if (entry.first == key) {
      value = &entry.second;
      break;
    }
  }
  if (value == nullptr || value->is_nil()) {
    if (required) fail(key, "missing");
    return std::nullopt;
  }
  std::optional<T> converted = convert(*value);
  if (!converted) fail(key, type_mismatch(expected, *value));
  return converted;
}

void FieldReader::fail(std::string_view key, const std::string& problem) {
  if (!error_) error_ = std::string(key) + ": " + problem;
}

Status FieldReader::status() const {
  if (error_) return Error(ErrorCode::kProtocol, *error_);
  return Status::Ok();
}

namespace {

// Converters: the value of another type gives nullopt; a match is moved out.
std::optional<std::string> to_str(Value& v) {
  if (std::string* s = v.as_str()) return std::move(*s);
  return std::nullopt;
}
std::optional<std::uint64_t> to_uint(Value& v) {
  return v.as_uint();
}
std::optional<std::int64_t> to_int(Value& v) {
  return v.as_int();
}
std::optional<bool> to_bool(Value& v) {
  return v.as_bool();
}
std::optional<Map> to_map(Value& v) {
  if (Map* m = v.as_map()) return std::move(*m);
  return std::nullopt;
}
std::optional<Array> to_array(Value& v) {
  if (Array* a = v.as_array()) return std::move(*a);
  return std::nullopt;
}
std::optional<Bytes> to_bin(Value& v) {
  if (Bytes* b = v.as_bin()) return std::move(*b);
  return std::nullopt;
}

constexpr std::string_view kStr = "str";
constexpr std::string_view kUint = "an unsigned integer";
constexpr std::string_view kInt = "an integer";
constexpr std::string_view kBool = "bool";
constexpr std::string_view kMap = "a map";
constexpr std::string_view kArray = "an array";
constexpr std::string_view kBin = "bin";

}  // namespace

std::string FieldReader::str(std::string_view key) {
  return read<std::string>(key, true, kStr, to_str).value_or(std::string());
}
std::uint64_t FieldReader::uint(std::string_view key) {
  return read<std::uint64_t>(key, true, kUint, to_uint).value_or(0);
}
std::int64_t FieldReader::int64(std::string_view key) {
  return read<std::int64_t>(key, true, kInt, to_int).value_or(0);
}
bool FieldReader::boolean(std::string_view key) {
  return read<bool>(key, true, kBool, to_bool).value_or(false);
}
Map FieldReader::map(std::string_view key) {
  return read<Map>(key, true, kMap, to_map).value_or(Map());
}
Array FieldReader::array(std::string_view key) {
  return read<Array>(key, true, kArray, to_array).value_or(Array());
}
std::optional<std::string> FieldReader::opt_str(std::string_view key) {
  return read<std::string>(key, false, kStr, to_str);
}
std::optional<std::uint64_t> FieldReader::opt_uint(std::string_view key) {
  return read<std::uint64_t>(key, false, kUint, to_uint);
}
std::optional<bool> FieldReader::opt_bool(std::string_view key) {
  return read<bool>(key, false, kBool, to_bool);
}
std::optional<Bytes> FieldReader::opt_bin(std::string_view key) {
  return read<Bytes>(key, false, kBin, to_bin);
}
std::optional<Map> FieldReader::opt_map(std::string_view key) {
  return read<Map>(key, false, kMap, to_map);
}

}  // namespace tether::protocol
