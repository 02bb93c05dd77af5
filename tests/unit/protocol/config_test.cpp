// Config bodies (wire.md section 5.2).
#include "protocol/config.hpp"

#include <gtest/gtest.h>

#include "tests/unit/protocol/schema_checks.hpp"

namespace tether::protocol {
namespace {

using testing::check_schema;
using testing::decode_error;
using testing::from_hex;

Map every_kind_of_value() {
  return {{"nil_deletes", nullptr},
          {"b", false},
          {"i", -3},
          {"u", std::uint64_t{18446744073709551615ULL}},
          {"f", 0.25},
          {"s", "x"},
          {"raw", Bytes{1, 2}},
          {"list", Array{1, "two", Map{{"three", 3}}}},
          {"nested", Map{{"deeper", Map{{"k", "v"}}}}}};
}

TEST(Config, SetSchema) {
  check_schema<ConfigSet>(Map{{"version", 3}, {"values", every_kind_of_value()}, {"replace", true}},
                          {"replace"});
}

TEST(Config, AppliedSchema) {
  check_schema<ConfigApplied>(Map{{"version", 3}}, {});
}

TEST(Config, CurrentSchema) {
  check_schema<ConfigCurrent>(Map{{"version", 0}, {"values", Map{}}}, {});
}

TEST(Config, ErrorSchema) {
  check_schema<ConfigError>(Map{{"version", 4}, {"err", "values: not a map"}}, {});
}

TEST(Config, SetKeepsNilValuesBecauseTheyDeleteKeys) {
  ConfigSet set{7, every_kind_of_value(), std::nullopt};
  Result<ConfigSet> back = ConfigSet::decode(set.encode());
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, set);
  EXPECT_TRUE(back->values.front().second.is_nil());
  EXPECT_FALSE(back->replace.has_value());
}

TEST(Config, ValuesMustBeAMap) {
  EXPECT_EQ(decode_error<ConfigSet>(Map{{"version", 1}, {"values", Array{1}}}),
            "config set: values: expected a map, got array");
  EXPECT_EQ(decode_error<ConfigSet>(Map{{"version", 1}, {"values", "a=b"}}),
            "config set: values: expected a map, got str");
}

TEST(Config, ExtensionValueIsRefused) {
  // {version: 1, values: {k: fixext1(type 1, 0x00)}}
  Result<ConfigSet> set =
      ConfigSet::decode(from_hex("82a776657273696f6e01a676616c75657381a16bd40100"));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().message().find("extension"), std::string::npos);
  EXPECT_NE(set.error().message().find("values.k"), std::string::npos) << set.error().message();
  // ext 8 nested in an array.
  EXPECT_FALSE(
      ConfigSet::decode(from_hex("82a776657273696f6e01a676616c75657381a16b91c702016162")).ok());
}

}  // namespace
}  // namespace tether::protocol

namespace tether::protocol {
namespace {

Bytes nested_set(std::size_t levels) {
  Value value = 1;
  for (std::size_t i = 0; i < levels; ++i) value = Array{value};
  return ConfigSet{1, Map{{"deep", value}}, std::nullopt}.encode();
}

TEST(Config, SetDeeperThanTheLimitIsRefused) {
  DecodeLimits limits;
  limits.max_depth = 6;  // body, values, and four levels of arrays
  EXPECT_TRUE(ConfigSet::decode(nested_set(4), limits).ok());
  Result<ConfigSet> deep = ConfigSet::decode(nested_set(5), limits);
  ASSERT_FALSE(deep.ok());
}

TEST(Config, EveryTruncationOfASetIsRefused) {
  const Bytes whole =
      ConfigSet{9, Map{{"a", Array{1, "x", Map{{"b", 2.5}}}}, {"c", Bytes{1, 2}}}, true}.encode();
  for (std::size_t size = 0; size < whole.size(); ++size) {
    EXPECT_FALSE(ConfigSet::decode(std::span(whole.data(), size)).ok()) << size;
  }
  EXPECT_TRUE(ConfigSet::decode(whole).ok());
}

TEST(Config, GarbageIsRefused) {
  for (const char* hex : {"", "c1", "ff", "a3616263", "92 01 02", "c0", "81a776657273696f6ec1"}) {
    std::string compact;
    for (const char* p = hex; *p != 0; ++p) {
      if (*p != ' ') compact += *p;
    }
    EXPECT_FALSE(ConfigSet::decode(from_hex(compact)).ok()) << hex;
  }
}

TEST(Config, WrongFieldTypesAreRefused) {
  EXPECT_NE(decode_error<ConfigSet>(Map{{"version", -1}, {"values", Map{}}}), "");
  EXPECT_NE(decode_error<ConfigSet>(Map{{"version", "1"}, {"values", Map{}}}), "");
  EXPECT_NE(decode_error<ConfigSet>(Map{{"version", 1}, {"values", Map{}}, {"replace", 1}}), "");
  EXPECT_NE(decode_error<ConfigSet>(Map{{"values", Map{}}}), "");
}

}  // namespace
}  // namespace tether::protocol
