#include "protocol/codec.hpp"

#include <msgpack.hpp>

#include <algorithm>
#include <exception>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "protocol/writer.hpp"

namespace tether::protocol {
namespace {

// Why not msgpack::unpack() / unpack_limit: msgpack-c's create_object_visitor
// allocates `claimed entries * sizeof(msgpack::object)` as soon as it reads a
// container header, before it knows whether the bytes exist. A 5-byte message
// "dd ff ff ff ff" would make it try to allocate 64 GiB, and unpack_limit only caps
// the count, not the count relative to the bytes that are actually there. The SAX
// parser (msgpack::v2::parse) allocates nothing itself but a small stack of
// container states, so the visitor below decides every allocation, and it refuses
// anything the remaining input could not possibly fill.

// The fewest bytes msgpack needs for each item. The parser does not report how
// many bytes an item used, so the visitor keeps a lower bound on the consumed
// input (resynchronised exactly at every str/bin, whose payload pointer it gets);
// "input size - lower bound" is then an upper bound on what remains, which is the
// safe direction for refusing claims.
std::size_t min_uint_size(std::uint64_t u) {
  if (u < 0x80) return 1;
  if (u <= 0xff) return 2;
  if (u <= 0xffff) return 3;
  if (u <= 0xffffffff) return 5;
  return 9;
}

std::size_t min_negative_int_size(std::int64_t i) {
  if (i >= -32) return 1;
  if (i >= std::numeric_limits<std::int8_t>::min()) return 2;
  if (i >= std::numeric_limits<std::int16_t>::min()) return 3;
  if (i >= std::numeric_limits<std::int32_t>::min()) return 5;
  return 9;
}

std::size_t min_container_header_size(std::uint32_t entries) {
  if (entries < 16) return 1;
  if (entries <= 0xffff) return 3;
  return 5;
}

std::uint64_t big_endian(const std::uint8_t* bytes, std::size_t count) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < count; ++i) v = (v << 8) | bytes[i];
  return v;
}

// The msgpack timestamp forms (32, 64 and 96 bits) as nanoseconds since the epoch;
// nullopt for another length, nanoseconds >= 1e9, or an instant int64 cannot hold.
std::optional<std::int64_t> timestamp_nanoseconds(const std::uint8_t* bytes, std::size_t count) {
  constexpr std::int64_t kBillion = 1'000'000'000;
  std::int64_t seconds = 0;
  std::int64_t nanos = 0;
  if (count == 4) {
    seconds = static_cast<std::int64_t>(big_endian(bytes, 4));
  } else if (count == 8) {
    const std::uint64_t v = big_endian(bytes, 8);
    nanos = static_cast<std::int64_t>(v >> 34);
    seconds = static_cast<std::int64_t>(v & 0x3ffffffffULL);
  } else if (count == 12) {
    nanos = static_cast<std::int64_t>(big_endian(bytes, 4));
    seconds = static_cast<std::int64_t>(big_endian(bytes + 4, 8));
  } else {
    return std::nullopt;
  }
  if (nanos >= kBillion) return std::nullopt;
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / kBillion - 1;
  if (seconds > kMaxSeconds || seconds < -kMaxSeconds) return std::nullopt;
  return seconds * kBillion + nanos;
}

// One open array or map while the parser is inside it.
struct Frame {
  bool is_map = false;
  Array array;
  Map map;
  // The key of the map entry whose value is being parsed, and whether the parser
  // is currently at a key rather than a value.
  std::string key;
  bool at_key = false;
};

// Builds a Value from msgpack-c's SAX events, enforcing DecodeLimits as it goes.
// Every method returns false to stop the parser; the reason is kept in error_.
class BoundedValueBuilder {
 public:
  BoundedValueBuilder(std::span<const std::uint8_t> input, const DecodeLimits& limits)
      : input_(input), limits_(limits), budget_(saturating_budget(input.size(), limits)) {}

  // Called by decode_value once parsing is done.
  const std::optional<std::string>& error() const { return error_; }
  std::optional<Value>& root() { return root_; }

  bool visit_nil() { return scalar(nullptr, 1); }
  bool visit_boolean(bool b) { return scalar(b, 1); }
  bool visit_positive_integer(std::uint64_t u) { return scalar(u, min_uint_size(u)); }
  bool visit_negative_integer(std::int64_t i) { return scalar(i, min_negative_int_size(i)); }
  bool visit_float32(float f) { return scalar(static_cast<double>(f), 5); }
  bool visit_float64(double d) { return scalar(d, 9); }

  bool visit_str(const char* data, std::uint32_t size) {
    if (!payload_fits(data, size, "str")) return false;
    return scalar(std::string(data, size), 0);
  }

  bool visit_bin(const char* data, std::uint32_t size) {
    if (!payload_fits(data, size, "bin")) return false;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    return scalar(Bytes(bytes, bytes + size), 0);
  }

  // The one extension accepted is msgpack's timestamp (type -1): Go peers write
  // time.Time that way (the file transfer's `modtime`). It decodes to int64
  // nanoseconds since the Unix epoch; every other extension is refused.
  bool visit_ext(const char* data, std::uint32_t size) {
    if (size == 0 || data == nullptr || static_cast<std::int8_t>(data[0]) != -1)
      return fail("extension types are not allowed");
    if (!payload_fits(data, size, "timestamp")) return false;
    const auto nanoseconds = timestamp_nanoseconds(reinterpret_cast<const std::uint8_t*>(data) + 1,
                                                   static_cast<std::size_t>(size) - 1);
    if (!nanoseconds) return fail("timestamp extension is malformed or out of range");
    return scalar(*nanoseconds, 0);
  }

  bool start_array(std::uint32_t entries) {
    if (!open_container(entries, 1, sizeof(Value), "array")) return false;
    Frame& frame = frames_.emplace_back();
    frame.array.reserve(entries);
    return true;
  }
  bool start_array_item() { return true; }
  bool end_array_item() { return true; }
  bool end_array() {
    Array done = std::move(frames_.back().array);
    frames_.pop_back();
    return deliver(std::move(done));
  }

  bool start_map(std::uint32_t entries) {
    if (!open_container(entries, 2, sizeof(Map::value_type), "map")) return false;
    Frame& frame = frames_.emplace_back();
    frame.is_map = true;
    frame.map.reserve(entries);
    return true;
  }
  bool start_map_key() {
    frames_.back().at_key = true;
    return true;
  }
  bool end_map_key() {
    frames_.back().at_key = false;
    return true;
  }
  bool start_map_value() { return true; }
  bool end_map_value() { return true; }
  bool end_map() {
    if (!keys_unique(frames_.back().map)) return false;
    Map done = std::move(frames_.back().map);
    frames_.pop_back();
    return deliver(std::move(done));
  }

  // msgpack-c's offsets here are not reliable (it may report the start of the
  // call), so the message names the position the builder had reached instead.
  void parse_error(std::size_t /*parsed_offset*/, std::size_t /*error_offset*/) {
    if (!error_) error_ = "invalid msgpack type byte (0xc1 is never used) at " + where();
  }
  void insufficient_bytes(std::size_t /*parsed_offset*/, std::size_t /*error_offset*/) {
    if (!error_) {
      error_ = "input ends in the middle of a value (" + std::to_string(input_.size()) +
               " bytes, truncated?)";
    }
  }

  // Part of msgpack-c's visitor concept (used by its streaming unpacker only).
  bool referenced() const { return false; }
  void set_referenced(bool /*referenced*/) {}

 private:
  static std::size_t saturating_budget(std::size_t input_size, const DecodeLimits& limits) {
    const std::size_t max = std::numeric_limits<std::size_t>::max();
    if (limits.expansion_factor != 0 && input_size > max / limits.expansion_factor) return max;
    const std::size_t scaled = input_size * limits.expansion_factor;
    if (scaled > max - limits.expansion_slack) return max;
    return scaled + limits.expansion_slack;
  }

  std::size_t remaining_upper_bound() const {
    return consumed_lower_bound_ >= input_.size() ? 0 : input_.size() - consumed_lower_bound_;
  }

  bool fail(const std::string& what) {
    if (!error_) error_ = what + " (at " + where() + ")";
    return false;
  }

  // Takes `bytes` from the allocation budget, or fails when it is exhausted.
  bool charge(std::size_t bytes) {
    if (bytes > budget_) {
      return fail("decoded value would need more than " + std::to_string(limits_.expansion_factor) +
                  "x the message size in memory");
    }
    budget_ -= bytes;
    return true;
  }

  bool payload_fits(const char* data, std::uint32_t size, const char* kind) {
    if (size > 0 && data != nullptr) {
      // The parser hands out a pointer into the input: the consumed count is exact here.
      const auto* begin = reinterpret_cast<const char*>(input_.data());
      consumed_lower_bound_ = static_cast<std::size_t>(data - begin) + size;
    } else {
      consumed_lower_bound_ += 1;
    }
    if (consumed_lower_bound_ > input_.size()) {
      return fail(std::string(kind) + " of " + std::to_string(size) +
                  " bytes is longer than the message");
    }
    return charge(size);
  }

  bool open_container(std::uint32_t entries, std::size_t min_bytes_per_entry,
                      std::size_t bytes_per_entry, const char* kind) {
    consumed_lower_bound_ += min_container_header_size(entries);
    if (!frames_.empty() && frames_.back().at_key) {
      return fail(std::string("map key is ") + (kind[0] == 'a' ? "an " : "a ") + kind +
                  ", expected str");
    }
    if (frames_.size() + 1 > limits_.max_depth) {
      return fail("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    if (entries > limits_.max_container_entries) {
      return fail(std::string(kind) + " of " + std::to_string(entries) +
                  " entries exceeds the limit of " + std::to_string(limits_.max_container_entries));
    }
    if (static_cast<std::size_t>(entries) * min_bytes_per_entry > remaining_upper_bound()) {
      return fail(std::string(kind) + " claims " + std::to_string(entries) +
                  " entries but at most " + std::to_string(remaining_upper_bound()) +
                  " bytes remain");
    }
    // Charged up front because the container is reserved at its claimed size, which
    // is safe only once the claim has been checked against the input and the budget.
    return charge(static_cast<std::size_t>(entries) * bytes_per_entry);
  }

  template <typename T>
  bool scalar(T&& value, std::size_t min_size) {
    consumed_lower_bound_ += min_size;
    return deliver(std::forward<T>(value));
  }

  // Places a finished value into its parent (or makes it the root). It takes the
  // alternative (a bool, a std::string, an Array ...), not a Value, and builds the
  // Value once, where it is stored: a Value moved through here by value made GCC 12
  // report -Wmaybe-uninitialized for the variant's other alternatives at -O2/-O3
  // (a false positive, but a by-value detour the decoder does not need).
  template <typename T>
  bool deliver(T&& value) {
    if (frames_.empty()) {
      root_.emplace(std::forward<T>(value));
      return true;
    }
    Frame& parent = frames_.back();
    if (!parent.is_map) {
      parent.array.emplace_back(std::forward<T>(value));
      return true;
    }
    if (parent.at_key) {
      if constexpr (std::is_same_v<std::remove_cvref_t<T>, std::string>) {
        parent.key = std::forward<T>(value);
        return true;
      } else {
        const Value key(std::forward<T>(value));
        return fail("map key is " + std::string(type_name(key)) + ", expected str");
      }
    }
    parent.map.emplace_back(std::move(parent.key), std::forward<T>(value));
    parent.key.clear();
    return true;
  }

  // Duplicate keys are refused rather than resolved: a peer that sends two values
  // for one key is broken, and "first wins" here against "last wins" elsewhere
  // (the Go decoder) would let two readers of one message disagree.
  bool keys_unique(const Map& map) {
    if (map.size() < 2) return true;
    std::vector<std::string_view> keys;
    keys.reserve(map.size());
    for (const auto& entry : map) keys.emplace_back(entry.first);
    std::sort(keys.begin(), keys.end());
    auto dup = std::adjacent_find(keys.begin(), keys.end());
    if (dup != keys.end()) return fail("duplicate map key \"" + std::string(*dup) + "\"");
    return true;
  }

  // A readable path to the item being parsed, for error messages: hdr.props.x[3].
  std::string where() const {
    if (frames_.empty()) return "top level";
    std::string path;
    for (const Frame& frame : frames_) {
      if (frame.is_map) {
        if (frame.at_key) {
          path += path.empty() ? "a key" : " key";
          break;
        }
        if (!path.empty()) path += '.';
        path += frame.key;
      } else {
        // Not "[" + std::to_string(...): GCC 12 -Wrestrict false positive at -O3.
        path += '[';
        path += std::to_string(frame.array.size());
        path += ']';
      }
    }
    return path.empty() ? "top level" : path;
  }

  std::span<const std::uint8_t> input_;
  const DecodeLimits& limits_;
  std::size_t budget_;
  std::size_t consumed_lower_bound_ = 0;
  std::vector<Frame> frames_;
  std::optional<Value> root_;
  std::optional<std::string> error_;
};

}  // namespace

Result<Value> decode_value(std::span<const std::uint8_t> data, const DecodeLimits& limits) {
  if (data.empty()) return Error(ErrorCode::kProtocol, "msgpack: empty input");
  BoundedValueBuilder builder(data, limits);
  std::size_t offset = 0;
  bool parsed = false;
  // msgpack-c's parser can throw (std::bad_alloc from its container stack, and
  // ext_size_overflow on 32-bit targets), and so can the builder's own allocations.
  // Nothing may escape the library, so the boundary catches everything.
  try {
    parsed = msgpack::v2::parse(reinterpret_cast<const char*>(data.data()), data.size(), offset,
                                builder);
  } catch (const std::bad_alloc&) {
    return Error(ErrorCode::kInternal, "msgpack: out of memory while decoding");
  } catch (const std::exception& e) {
    return Error(ErrorCode::kProtocol, std::string("msgpack: ") + e.what());
  } catch (...) {
    return Error(ErrorCode::kInternal, "msgpack: unexpected failure while decoding");
  }
  if (!parsed || !builder.root()) {
    return Error(ErrorCode::kProtocol,
                 "msgpack: " + builder.error().value_or("input does not hold a complete value"));
  }
  if (offset != data.size()) {
    return Error(ErrorCode::kProtocol, "msgpack: " + std::to_string(data.size() - offset) +
                                           " trailing bytes after the value");
  }
  return std::move(*builder.root());
}

Bytes encode_value(const Value& value) {
  Writer writer;
  writer.value(value);
  return writer.take();
}

}  // namespace tether::protocol
