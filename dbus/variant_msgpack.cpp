#include "dbus/variant_msgpack.hpp"

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace tether::dbus {
namespace {

using protocol::Array;
using protocol::Bytes;
using protocol::Map;
using protocol::Value;

// The length of the one complete type starting at `pos` of `sig`; 0 when malformed.
std::size_t complete_type_length(const std::string& sig, std::size_t pos) {
  if (pos >= sig.size()) return 0;
  char c = sig[pos];
  if (c == 'a') {
    std::size_t inner = complete_type_length(sig, pos + 1);
    return inner == 0 ? 0 : inner + 1;
  }
  if (c == '(' || c == '{') {
    char close = c == '(' ? ')' : '}';
    std::size_t at = pos + 1;
    while (at < sig.size() && sig[at] != close) {
      std::size_t inner = complete_type_length(sig, at);
      if (inner == 0) return 0;
      at += inner;
    }
    return at < sig.size() ? at - pos + 1 : 0;
  }
  return 1;
}

class Reader {
 public:
  Reader(const ScratchFactory& scratch, const VariantLimits& limits)
      : scratch_(scratch), limits_(limits) {}

  Result<Value> variant(const sdbus::Variant& variant, std::size_t depth) {
    if (depth > limits_.max_depth) return too_deep();
    try {
      Result<Value> out = Error(ErrorCode::kInternal, "no scratch message");
      scratch_([&](sdbus::Message& scratch) {
        scratch << variant;
        scratch.seal();
        scratch.rewind(true);
        std::string type;
        std::string contents;
        scratch.peekType(type, contents);
        scratch.enterVariant(contents);
        Result<std::optional<Value>> value = one(scratch, contents, depth);
        if (!value.ok()) {
          out = value.error();
        } else if (!value->has_value()) {
          out = Error(ErrorCode::kInvalidArgument, "an empty variant");
        } else {
          out = std::move(**value);
        }
      });
      return out;
    } catch (const sdbus::Error& error) {
      return Error(ErrorCode::kInvalidArgument, "unreadable variant: " + error.getMessage());
    }
  }

 private:
  static Error too_deep() { return Error(ErrorCode::kInvalidArgument, "values nest too deep"); }

  Status count() {
    if (++elements_ > limits_.max_elements) {
      return Error(ErrorCode::kInvalidArgument,
                   "more than " + std::to_string(limits_.max_elements) + " values");
    }
    return Status::Ok();
  }

  template <typename T>
  static std::optional<T> basic(sdbus::Message& msg) {
    T item{};
    msg >> item;
    if (!msg) {
      msg.clearFlags();
      return std::nullopt;
    }
    return item;
  }

  // Reads one value of complete type `sig`; nullopt at the end of the enclosing array.
  Result<std::optional<Value>> one(sdbus::Message& msg, const std::string& sig, std::size_t depth) {
    if (Status counted = count(); !counted) return counted.error();
    auto wrap = [](auto item) -> std::optional<Value> {
      if (!item) return std::nullopt;
      return Value(*item);
    };
    switch (sig.empty() ? '\0' : sig[0]) {
      case 'b':
        return wrap(basic<bool>(msg));
      case 'y': {
        auto v = basic<std::uint8_t>(msg);
        return v ? std::optional<Value>(Value(std::int64_t{*v})) : std::nullopt;
      }
      case 'n': {
        auto v = basic<std::int16_t>(msg);
        return v ? std::optional<Value>(Value(std::int64_t{*v})) : std::nullopt;
      }
      case 'q': {
        auto v = basic<std::uint16_t>(msg);
        return v ? std::optional<Value>(Value(std::int64_t{*v})) : std::nullopt;
      }
      case 'i': {
        auto v = basic<std::int32_t>(msg);
        return v ? std::optional<Value>(Value(std::int64_t{*v})) : std::nullopt;
      }
      case 'u': {
        auto v = basic<std::uint32_t>(msg);
        return v ? std::optional<Value>(Value(std::int64_t{*v})) : std::nullopt;
      }
      case 'x':
        return wrap(basic<std::int64_t>(msg));
      case 't':
        return wrap(basic<std::uint64_t>(msg));
      case 'd':
        return wrap(basic<double>(msg));
      case 's':
        return wrap(basic<std::string>(msg));
      case 'o': {
        auto v = basic<sdbus::ObjectPath>(msg);
        return v ? std::optional<Value>(Value(std::string(*v))) : std::nullopt;
      }
      case 'g': {
        auto v = basic<sdbus::Signature>(msg);
        return v ? std::optional<Value>(Value(std::string(*v))) : std::nullopt;
      }
      case 'v': {
        auto v = basic<sdbus::Variant>(msg);
        if (!v) return std::optional<Value>();
        Result<Value> inner = variant(*v, depth + 1);
        if (!inner.ok()) return inner.error();
        return std::optional<Value>(std::move(inner).value());
      }
      case 'a':
        return array(msg, sig.substr(1), depth + 1);
      default:
        return Error(ErrorCode::kInvalidArgument,
                     "D-Bus type '" + sig + "' has no msgpack mapping");
    }
  }

  Result<std::optional<Value>> array(sdbus::Message& msg, const std::string& element,
                                     std::size_t depth) {
    if (depth > limits_.max_depth) return too_deep();
    const bool dict = !element.empty() && element[0] == '{';
    if (dict && (element.size() < 4 || element[1] != 's')) {
      return Error(ErrorCode::kInvalidArgument,
                   "D-Bus dict 'a" + element + "' has no msgpack mapping (keys must be strings)");
    }
    if (!msg.enterContainer(element)) {
      msg.clearFlags();
      return std::optional<Value>();
    }
    if (element == "y") {
      Bytes bytes;
      while (auto byte = basic<std::uint8_t>(msg)) {
        if (Status counted = count(); !counted) return counted.error();
        bytes.push_back(*byte);
      }
      msg.exitContainer();
      return std::optional<Value>(Value(std::move(bytes)));
    }
    if (dict) {
      std::string entry = element.substr(1, element.size() - 2);  // "sv"
      std::string value_sig = entry.substr(1);
      if (complete_type_length(value_sig, 0) != value_sig.size()) {
        return Error(ErrorCode::kInvalidArgument, "malformed D-Bus signature a" + element);
      }
      Map map;
      while (true) {
        if (!msg.enterDictEntry(entry)) {
          msg.clearFlags();
          break;
        }
        std::string key;
        msg >> key;
        Result<std::optional<Value>> value = one(msg, value_sig, depth);
        if (!value.ok()) return value.error();
        if (!value->has_value()) break;
        msg.exitDictEntry();
        protocol::set(map, std::move(key), std::move(**value));
      }
      msg.exitContainer();
      return std::optional<Value>(Value(std::move(map)));
    }
    Array items;
    while (true) {
      Result<std::optional<Value>> item = one(msg, element, depth);
      if (!item.ok()) return item.error();
      if (!item->has_value()) break;
      items.push_back(std::move(**item));
    }
    msg.exitContainer();
    return std::optional<Value>(Value(std::move(items)));
  }

  const ScratchFactory& scratch_;
  const VariantLimits& limits_;
  std::size_t elements_ = 0;
};

}  // namespace

ScratchFactory scratch_from(sdbus::IObject& object) {
  return [&object](const std::function<void(sdbus::Message&)>& use) {
    sdbus::Signal scratch = object.createSignal("io.tether.Scratch", "Scratch");
    use(scratch);
  };
}

ScratchFactory scratch_from(sdbus::IProxy& proxy) {
  return [&proxy](const std::function<void(sdbus::Message&)>& use) {
    sdbus::MethodCall scratch = proxy.createMethodCall("io.tether.Scratch", "Scratch");
    use(scratch);
  };
}

Result<Value> variant_to_value(const ScratchFactory& scratch, const sdbus::Variant& variant,
                               const VariantLimits& limits) {
  Reader reader(scratch, limits);
  return reader.variant(variant, 1);
}

Result<Map> variants_to_map(const ScratchFactory& scratch,
                            const std::map<std::string, sdbus::Variant>& values,
                            const VariantLimits& limits) {
  Reader reader(scratch, limits);
  Map out;
  out.reserve(values.size());
  for (const auto& [key, variant] : values) {
    Result<Value> value = reader.variant(variant, 2);
    if (!value.ok()) return value.error().wrap(key);
    out.emplace_back(key, std::move(value).value());
  }
  return out;
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
