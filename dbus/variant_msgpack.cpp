#include "dbus/variant_msgpack.hpp"

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace sdbus {
// Exported by libsdbus-c++ 1.2 (Variant's constructor uses it) and declared in its
// public Message.h from 1.3 on: a message that belongs to no bus, for decoding.
// With it no connection is needed to read a variant.
PlainMessage createPlainMessage();
}  // namespace sdbus

namespace tether::dbus {
namespace {

using protocol::Array;
using protocol::Bytes;
using protocol::Map;
using protocol::Value;

// "values" + "temp" -> "values.temp", for error sentences.
std::string member(const std::string& where, const std::string& key) {
  std::string name = where;
  name += '.';
  name += key;
  return name;
}

Error invalid(const std::string& where, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, where + ": " + what);
}

// Length of the single complete type at the start of `signature` (0 when malformed).
std::size_t complete_type_length(std::string_view signature) {
  if (signature.empty()) return 0;
  const char first = signature[0];
  if (first == 'a') {
    const std::size_t inner = complete_type_length(signature.substr(1));
    return inner == 0 ? 0 : inner + 1;
  }
  if (first == '(' || first == '{') {
    const char close = first == '(' ? ')' : '}';
    std::size_t at = 1;
    while (at < signature.size() && signature[at] != close) {
      const std::size_t inner = complete_type_length(signature.substr(at));
      if (inner == 0) return 0;
      at += inner;
    }
    return at < signature.size() ? at + 1 : 0;
  }
  return 1;
}

std::string describe_type(std::string_view signature) {
  if (signature.empty()) return "an empty signature";
  switch (signature[0]) {
    case '(':
      return "a struct (" + std::string(signature) + ")";
    case 'h':
      return "a unix fd (h)";
    case 'a':
      return "a dict keyed by " + std::string(1, signature.size() > 2 ? signature[2] : '?') + " (" +
             std::string(signature) + ")";
    default:
      return "D-Bus type " + std::string(signature);
  }
}

// Walks one variant's message. Depth counts every level (the variant itself is 1,
// a map's values 2) against max_depth, which matches the msgpack decoder's bound so
// that whatever this accepts also decodes; every value, and every byte of an `ay`,
// counts against max_elements.
class Reader {
 public:
  explicit Reader(const VariantLimits& limits) : limits_(limits) {}

  Result<Value> variant(const sdbus::Variant& value, const std::string& where, std::size_t depth) {
    if (depth > limits_.max_depth) return too_deep(where);
    const std::string signature = value.peekValueType();
    if (signature.empty() || complete_type_length(signature) != signature.size())
      return invalid(where, "a variant without a single complete type");
    auto message = sdbus::createPlainMessage();
    value.serializeTo(message);
    message.seal();
    message.rewind(true);
    message.enterVariant(signature);
    // On a refusal the message is abandoned where it stands: nothing reads it again.
    auto result = read(message, signature, where, depth);
    if (result) message.exitVariant();
    return result;
  }

 private:
  Error too_deep(const std::string& where) const {
    return invalid(where, "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
  }

  Status count(const std::string& where, std::size_t n = 1) {
    elements_ += n;
    if (elements_ > limits_.max_elements) {
      return invalid(where, "more than " + std::to_string(limits_.max_elements) + " values");
    }
    return Status::Ok();
  }

  template <typename T>
  static T basic(sdbus::Message& message) {
    T item{};
    message >> item;
    return item;
  }

  Result<Value> read(sdbus::Message& message, std::string_view signature, const std::string& where,
                     std::size_t depth) {
    if (depth > limits_.max_depth) return too_deep(where);
    if (auto counted = count(where); !counted) return counted.error();
    switch (signature[0]) {
      case 'b':
        return Value(basic<bool>(message));
      case 'y':
        return Value(std::int64_t{basic<std::uint8_t>(message)});
      case 'n':
        return Value(std::int64_t{basic<std::int16_t>(message)});
      case 'q':
        return Value(std::int64_t{basic<std::uint16_t>(message)});
      case 'i':
        return Value(std::int64_t{basic<std::int32_t>(message)});
      case 'u':
        return Value(std::int64_t{basic<std::uint32_t>(message)});
      case 'x':
        return Value(basic<std::int64_t>(message));
      case 't':
        return Value(basic<std::uint64_t>(message));
      case 'd':
        return Value(basic<double>(message));
      case 's':
        return Value(basic<std::string>(message));
      case 'o':
        return Value(std::string(basic<sdbus::ObjectPath>(message)));
      case 'g':
        return Value(std::string(basic<sdbus::Signature>(message)));
      case 'v': {
        sdbus::Variant inner;
        message >> inner;
        return variant(inner, where, depth + 1);
      }
      case 'a':
        return array(message, signature.substr(1), where, depth);
      default:
        return invalid(where, describe_type(signature) + " has no msgpack mapping");
    }
  }

  Result<Value> array(sdbus::Message& message, std::string_view element, const std::string& where,
                      std::size_t depth) {
    if (element == "y") {
      std::vector<std::uint8_t> bytes;
      message >> bytes;
      if (auto counted = count(where, bytes.size()); !counted) return counted.error();
      return Value(Bytes(bytes.begin(), bytes.end()));
    }
    if (element[0] == '{') return dict(message, element, where, depth);
    message.enterContainer(std::string(element));
    Array items;
    // A plain element read past the end is indistinguishable from a failed read in
    // sdbus-c++ 1.2, so each element is copied out first: an empty copy is the end.
    for (std::size_t index = 0;; ++index) {
      auto one = sdbus::createPlainMessage();
      message.copyTo(one, false);
      if (one.isEmpty()) break;
      one.seal();
      one.rewind(true);
      auto item = read(one, element, where + "[" + std::to_string(index) + "]", depth + 1);
      if (!item) return item.error();
      items.push_back(std::move(*item));
    }
    message.exitContainer();
    return Value(std::move(items));
  }

  Result<Value> dict(sdbus::Message& message, std::string_view entry, const std::string& where,
                     std::size_t depth) {
    const char key_type = entry.size() > 1 ? entry[1] : '?';
    if (key_type != 's' && key_type != 'o' && key_type != 'g')
      return invalid(where, describe_type("a" + std::string(entry)) +
                                " has no msgpack mapping: map keys must be strings");
    const std::string contents(entry.substr(1, entry.size() - 2));
    const std::string_view value_type = std::string_view(contents).substr(1);
    message.enterContainer(std::string(entry));
    Map map;
    while (message.enterDictEntry(contents)) {
      std::string key;
      if (key_type == 's') {
        message >> key;
      } else if (key_type == 'o') {
        key = basic<sdbus::ObjectPath>(message);
      } else {
        key = basic<sdbus::Signature>(message);
      }
      auto value = read(message, value_type, member(where, key), depth + 1);
      if (!value) return value.error();
      protocol::set(map, std::move(key), std::move(*value));
      message.exitDictEntry();
    }
    message.clearFlags();
    message.exitContainer();
    return Value(std::move(map));
  }

  const VariantLimits& limits_;
  std::size_t elements_ = 0;
};

}  // namespace

Result<Value> variant_to_value(const sdbus::Variant& variant, const std::string& where,
                               const VariantLimits& limits) {
  try {
    Reader reader(limits);
    return reader.variant(variant, where, 1);
  } catch (const sdbus::Error& error) {
    return invalid(where, "cannot be read: " + error.getMessage());
  }
}

Result<Map> variants_to_map(const std::map<std::string, sdbus::Variant>& values,
                            const std::string& where, const VariantLimits& limits) {
  try {
    Reader reader(limits);
    Map out;
    out.reserve(values.size());
    for (const auto& [key, variant] : values) {
      const std::string name = member(where, key);
      Result<Value> value = reader.variant(variant, name, 2);
      if (!value.ok()) return value.error();
      out.emplace_back(key, std::move(value).value());
    }
    return out;
  } catch (const sdbus::Error& error) {
    return invalid(where, "cannot be read: " + error.getMessage());
  }
}

sdbus::Variant value_to_variant(const Value& value) {
  if (auto b = value.as_bool()) return sdbus::Variant(*b);
  if (value.is_int()) {
    if (auto i = value.as_int()) return sdbus::Variant(*i);
    return sdbus::Variant(*value.as_uint());
  }
  if (auto d = value.as_float()) return sdbus::Variant(*d);
  if (const std::string* s = value.as_str()) return sdbus::Variant(*s);
  if (const Bytes* bin = value.as_bin()) return sdbus::Variant(std::vector<std::uint8_t>(*bin));
  if (const Array* array = value.as_array()) {
    std::vector<sdbus::Variant> items;
    items.reserve(array->size());
    for (const Value& item : *array) items.push_back(value_to_variant(item));
    return sdbus::Variant(items);
  }
  if (const Map* map = value.as_map()) return sdbus::Variant(map_to_variants(*map));
  return sdbus::Variant(std::vector<sdbus::Variant>{});  // nil
}

std::map<std::string, sdbus::Variant> map_to_variants(const Map& map) {
  std::map<std::string, sdbus::Variant> out;
  for (const auto& [key, value] : map) {
    if (value.is_nil()) continue;
    out.insert_or_assign(key, value_to_variant(value));
  }
  return out;
}

}  // namespace tether::dbus
