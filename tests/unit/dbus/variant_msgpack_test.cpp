// The Telemetry1 variant mapping (spec/dbus.md) both ways: nesting, refusals inside
// maps, the bounds, and msgpack -> variants -> msgpack.
#include "dbus/variant_msgpack.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace tether::dbus {
namespace {

using protocol::Array;
using protocol::Bytes;
using protocol::Map;
using protocol::Value;

class VariantTest : public ::testing::Test {
 protected:
  static Result<Value> read(const sdbus::Variant& variant, const VariantLimits& limits = {}) {
    return variant_to_value(variant, "value", limits);
  }
};

TEST_F(VariantTest, EveryMappedTypeReadsAsTheContractSays) {
  EXPECT_EQ(*read(sdbus::Variant(true)), Value(true));
  EXPECT_EQ(*read(sdbus::Variant(std::uint8_t{200})), Value(200));
  EXPECT_EQ(*read(sdbus::Variant(std::int16_t{-5})), Value(-5));
  EXPECT_EQ(*read(sdbus::Variant(std::uint16_t{65535})), Value(65535));
  EXPECT_EQ(*read(sdbus::Variant(std::int32_t{-70000})), Value(-70000));
  EXPECT_EQ(*read(sdbus::Variant(std::uint32_t{4000000000U})), Value(std::int64_t{4000000000}));
  EXPECT_EQ(*read(sdbus::Variant(std::int64_t{-1})), Value(-1));
  EXPECT_EQ(*read(sdbus::Variant(std::uint64_t{18446744073709551615ULL})),
            Value(std::uint64_t{18446744073709551615ULL}));
  EXPECT_EQ(*read(sdbus::Variant(2.5)), Value(2.5));
  EXPECT_EQ(*read(sdbus::Variant(std::string("hi"))), Value("hi"));
  EXPECT_EQ(*read(sdbus::Variant(sdbus::ObjectPath("/a/b"))), Value("/a/b"));
  EXPECT_EQ(*read(sdbus::Variant(sdbus::Signature("a{sv}"))), Value("a{sv}"));
  EXPECT_EQ(*read(sdbus::Variant(std::vector<std::uint8_t>{1, 2, 3})), Value(Bytes{1, 2, 3}));
  EXPECT_EQ(*read(sdbus::Variant(std::vector<std::uint8_t>{})), Value(Bytes{}));
  EXPECT_EQ(*read(sdbus::Variant(std::vector<std::int32_t>{4, 5})), Value(Array{4, 5}));
  EXPECT_EQ(*read(sdbus::Variant(std::vector<std::string>{})), Value(Array{}));
  EXPECT_EQ(*read(sdbus::Variant(std::vector<std::vector<std::string>>{{"a"}, {}})),
            Value(Array{Value(Array{"a"}), Value(Array{})}));
  EXPECT_EQ(*read(sdbus::Variant(std::map<std::string, std::string>{{"k", "v"}})),
            Value(Map{{"k", "v"}}));
  std::map<std::string, sdbus::Variant> nested{
      {"n", sdbus::Variant(std::map<std::string, sdbus::Variant>{{"x", sdbus::Variant(1.0)}})},
      {"v", sdbus::Variant(sdbus::Variant(std::int32_t{7}))}};
  auto map = variants_to_map(nested, "args");
  ASSERT_TRUE(map.ok()) << map.error().message();
  EXPECT_EQ(*map, (Map{{"n", Map{{"x", 1.0}}}, {"v", 7}}));
}

TEST_F(VariantTest, UnmappedTypesAreInvalidArguments) {
  for (const sdbus::Variant& wrong :
       {sdbus::Variant(std::map<std::int32_t, std::string>{{1, "x"}}),
        sdbus::Variant(sdbus::Struct<std::int32_t, std::string>(1, "x")),
        sdbus::Variant(std::vector<sdbus::Struct<std::int32_t>>{sdbus::Struct<std::int32_t>(1)})}) {
    auto read_back = read(wrong);
    ASSERT_FALSE(read_back.ok()) << wrong.peekValueType();
    EXPECT_EQ(read_back.error().code(), ErrorCode::kInvalidArgument);
  }
  std::map<std::string, sdbus::Variant> values{{"bad", sdbus::Variant(sdbus::Struct<bool>(true))}};
  auto map = variants_to_map(values, "args");
  ASSERT_FALSE(map.ok());
  EXPECT_NE(map.error().message().find("bad"), std::string::npos) << map.error().message();
}

TEST_F(VariantTest, DepthAndSizeAreBounded) {
  sdbus::Variant deep(std::int32_t{1});
  for (int i = 0; i < 40; ++i) deep = sdbus::Variant(std::vector<sdbus::Variant>{deep});
  EXPECT_FALSE(read(deep).ok());
  VariantLimits small;
  small.max_elements = 100;
  EXPECT_FALSE(read(sdbus::Variant(std::vector<std::int32_t>(500, 1)), small).ok());
  EXPECT_FALSE(read(sdbus::Variant(std::vector<std::uint8_t>(500, 1)), small).ok());
  EXPECT_TRUE(read(sdbus::Variant(std::vector<std::int32_t>(50, 1)), small).ok());
}

TEST_F(VariantTest, MsgpackToVariantsAndBack) {
  Map original{{"b", true},
               {"i", -3},
               {"u", std::uint64_t{18446744073709551615ULL}},
               {"f", 0.25},
               {"s", "text"},
               {"bin", Bytes{9, 8}},
               {"list", Array{1, "two", Array{}}},
               {"map", Map{{"inner", false}}}};
  auto variants = map_to_variants(original);
  EXPECT_EQ(variants.at("i").peekValueType(), "x");
  EXPECT_EQ(variants.at("u").peekValueType(), "t");
  EXPECT_EQ(variants.at("bin").peekValueType(), "ay");
  EXPECT_EQ(variants.at("list").peekValueType(), "av");
  EXPECT_EQ(variants.at("map").peekValueType(), "a{sv}");
  auto back = variants_to_map(variants, "args");
  ASSERT_TRUE(back.ok()) << back.error().message();
  Map sorted = original;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  EXPECT_EQ(*back, sorted);
  // nil: left out of a map, an empty av in an array.
  auto with_nil = map_to_variants(Map{{"gone", Value()}, {"list", Array{Value()}}});
  EXPECT_EQ(with_nil.count("gone"), 0U);
  EXPECT_EQ(with_nil.at("list").peekValueType(), "av");
}

}  // namespace
}  // namespace tether::dbus
