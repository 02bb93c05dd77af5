// Checks every body schema must pass, written once: given a valid body as a Map and
// the schema type, mutate each field in every way the contract cares about.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"
#include "tests/unit/protocol/hex.hpp"

namespace tether::protocol::testing {

// One value of every msgpack type the model has.
inline std::vector<Value> one_of_each_type() {
  return {Value(nullptr),
          Value(true),
          Value(7),
          Value(1.5),
          Value("s"),
          Value(Bytes{1}),
          Value(Array{Value(1)}),
          Value(Map{{"k", Value(1)}})};
}

template <typename Schema>
Result<Schema> decode_map(const Map& body) {
  return Schema::decode(encode_value(Value(body)));
}

template <typename Schema>
std::string decode_error(const Map& body) {
  Result<Schema> decoded = decode_map<Schema>(body);
  EXPECT_FALSE(decoded.ok()) << "decoded, expected an error: " << to_hex(encode_value(Value(body)));
  return decoded.ok() ? std::string() : decoded.error().message();
}

inline Map without(const Map& map, std::string_view key) {
  Map out;
  for (const auto& entry : map) {
    if (entry.first != key) out.push_back(entry);
  }
  return out;
}

inline Map with(const Map& map, std::string_view key, Value value) {
  Map out = map;
  set(out, std::string(key), std::move(value));
  return out;
}

// `valid` must hold every field of Schema; `optional` names those that may be absent.
template <typename Schema>
void check_schema(const Map& valid, std::vector<std::string_view> optional) {
  SCOPED_TRACE(to_hex(encode_value(Value(valid))));
  Result<Schema> reference = decode_map<Schema>(valid);
  ASSERT_TRUE(reference.ok()) << reference.error().message();

  // Round trip: our encoding decodes to the same struct and is stable.
  Bytes encoded = reference->encode();
  Result<Schema> again = Schema::decode(encoded);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *reference);
  EXPECT_EQ(to_hex(again->encode()), to_hex(encoded));

  // Any key order, unknown keys ignored.
  Map reversed(valid.rbegin(), valid.rend());
  reversed.emplace_back("zz_unknown_key", Value(Array{Value(1), Value("x")}));
  Result<Schema> lenient = decode_map<Schema>(reversed);
  ASSERT_TRUE(lenient.ok()) << lenient.error().message();
  EXPECT_EQ(*lenient, *reference);

  for (const auto& [key, original] : valid) {
    SCOPED_TRACE("field " + key);
    const bool is_optional = std::find(optional.begin(), optional.end(), key) != optional.end();
    // Absent and nil are the same thing.
    for (const Map& absent : {without(valid, key), with(valid, key, nullptr)}) {
      if (is_optional) {
        EXPECT_TRUE(decode_map<Schema>(absent).ok());
      } else {
        std::string message = decode_error<Schema>(absent);
        EXPECT_NE(message.find(key + ": missing"), std::string::npos) << message;
      }
    }
    // Every other type is refused, and the error names the field.
    for (const Value& wrong : one_of_each_type()) {
      if (wrong.is_nil() || type_name(wrong) == type_name(original)) continue;
      std::string message = decode_error<Schema>(with(valid, key, wrong));
      EXPECT_NE(message.find(key + ": expected"), std::string::npos)
          << "with " << type_name(wrong) << ": " << message;
    }
  }

  // A body that is not one complete map.
  Bytes bytes = encode_value(Value(valid));
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_FALSE(Schema::decode(std::span(bytes.data(), length)).ok()) << "cut at " << length;
  }
  Bytes trailing = bytes;
  trailing.push_back(0xc0);
  EXPECT_FALSE(Schema::decode(trailing).ok());
  EXPECT_FALSE(Schema::decode(encode_value(Value(Array{Value(valid)}))).ok());
  EXPECT_FALSE(Schema::decode(encode_value(Value("map"))).ok());
}

}  // namespace tether::protocol::testing
