// The Telemetry1 variant mapping (spec/dbus.md) for every D-Bus type, and every
// type it refuses.
#include "dbus/variant_msgpack.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace tether::dbus {
namespace {

using protocol::Array;
using protocol::Bytes;
using protocol::Map;
using protocol::Value;

Value mapped(const sdbus::Variant& variant) {
  auto value = variant_to_value(variant, "values.x");
  EXPECT_TRUE(value.ok()) << (value ? "" : value.error().message());
  return value ? *value : Value();
}

std::string refusal(const sdbus::Variant& variant) {
  auto value = variant_to_value(variant, "values.x");
  EXPECT_FALSE(value.ok());
  if (value) return "";
  EXPECT_EQ(value.error().code(), ErrorCode::kInvalidArgument);
  return value.error().message();
}

TEST(VariantMapping, BoolIsBool) {
  EXPECT_EQ(mapped(sdbus::Variant(true)), Value(true));
  EXPECT_EQ(mapped(sdbus::Variant(false)), Value(false));
}

TEST(VariantMapping, EveryIntegerTypeIsInt) {
  EXPECT_EQ(mapped(sdbus::Variant(std::uint8_t{255})), Value(255));
  EXPECT_EQ(mapped(sdbus::Variant(std::int16_t{-32768})), Value(-32768));
  EXPECT_EQ(mapped(sdbus::Variant(std::uint16_t{65535})), Value(65535));
  EXPECT_EQ(mapped(sdbus::Variant(std::int32_t{-7})), Value(-7));
  EXPECT_EQ(mapped(sdbus::Variant(std::uint32_t{4000000000U})), Value(std::int64_t{4000000000LL}));
  EXPECT_EQ(mapped(sdbus::Variant(std::numeric_limits<std::int64_t>::min())),
            Value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(mapped(sdbus::Variant(std::numeric_limits<std::uint64_t>::max())),
            Value(std::numeric_limits<std::uint64_t>::max()));
  EXPECT_TRUE(mapped(sdbus::Variant(std::uint64_t{5})).is_int());
}

TEST(VariantMapping, DoubleIsFloat) {
  const Value value = mapped(sdbus::Variant(21.5));
  ASSERT_TRUE(value.is_float());
  EXPECT_EQ(value.as_float(), 21.5);
}

TEST(VariantMapping, StringsPathsAndSignaturesAreStr) {
  EXPECT_EQ(mapped(sdbus::Variant(std::string("héllo"))), Value("héllo"));
  EXPECT_EQ(mapped(sdbus::Variant(sdbus::ObjectPath("/a/b"))), Value("/a/b"));
  EXPECT_EQ(mapped(sdbus::Variant(sdbus::Signature("a{sv}"))), Value("a{sv}"));
}

TEST(VariantMapping, ByteArrayIsBin) {
  EXPECT_EQ(mapped(sdbus::Variant(std::vector<std::uint8_t>{0, 1, 255})), Value(Bytes{0, 1, 255}));
  EXPECT_EQ(mapped(sdbus::Variant(std::vector<std::uint8_t>{})), Value(Bytes{}));
}

TEST(VariantMapping, OtherArraysAreArrays) {
  EXPECT_EQ(mapped(sdbus::Variant(std::vector<std::int32_t>{1, 2, 3})), Value(Array{1, 2, 3}));
  EXPECT_EQ(mapped(sdbus::Variant(std::vector<std::string>{"a", "b"})), Value(Array{"a", "b"}));
  EXPECT_EQ(mapped(sdbus::Variant(std::vector<double>{})), Value(Array{}));
  EXPECT_EQ(mapped(sdbus::Variant(std::vector<std::vector<std::int32_t>>{{1}, {}, {2, 3}})),
            Value(Array{Array{1}, Array{}, Array{2, 3}}));
  EXPECT_EQ(mapped(sdbus::Variant(std::vector<std::vector<std::uint8_t>>{{1}, {}})),
            Value(Array{Bytes{1}, Bytes{}}));
  EXPECT_EQ(mapped(sdbus::Variant(
                std::vector<sdbus::Variant>{sdbus::Variant(1), sdbus::Variant(std::string("x"))})),
            Value(Array{1, "x"}));
}

TEST(VariantMapping, StringKeyedDictsAreMaps) {
  std::map<std::string, sdbus::Variant> inner{{"on", sdbus::Variant(true)},
                                              {"t", sdbus::Variant(1.5)}};
  EXPECT_EQ(mapped(sdbus::Variant(inner)), Value(Map{{"on", true}, {"t", 1.5}}));
  std::map<std::string, std::int32_t> counts{{"a", 1}, {"b", 2}};
  EXPECT_EQ(mapped(sdbus::Variant(counts)), Value(Map{{"a", 1}, {"b", 2}}));
  std::map<sdbus::ObjectPath, std::string> paths{{sdbus::ObjectPath("/x"), "y"}};
  EXPECT_EQ(mapped(sdbus::Variant(paths)), Value(Map{{"/x", "y"}}));
  std::map<std::string, std::map<std::string, sdbus::Variant>> nested{
      {"outer", {{"deep", sdbus::Variant(std::vector<std::int32_t>{7})}}}};
  EXPECT_EQ(mapped(sdbus::Variant(nested)), Value(Map{{"outer", Map{{"deep", Array{7}}}}}));
  EXPECT_EQ(mapped(sdbus::Variant(std::map<std::string, sdbus::Variant>{})), Value(Map{}));
}

TEST(VariantMapping, StructsAreRefused) {
  const auto sentence = refusal(sdbus::Variant(sdbus::Struct<std::int32_t, std::string>(1, "a")));
  EXPECT_NE(sentence.find("values.x"), std::string::npos) << sentence;
  EXPECT_NE(sentence.find("struct"), std::string::npos) << sentence;
}

TEST(VariantMapping, StructsInsideContainersAreRefused) {
  std::vector<sdbus::Struct<std::int32_t>> list{sdbus::Struct<std::int32_t>(1)};
  const auto sentence = refusal(sdbus::Variant(list));
  EXPECT_NE(sentence.find("values.x[0]"), std::string::npos) << sentence;
  std::map<std::string, sdbus::Variant> dict{
      {"bad", sdbus::Variant(sdbus::Struct<bool, bool>(true, false))}};
  EXPECT_NE(refusal(sdbus::Variant(dict)).find("values.x.bad"), std::string::npos);
}

TEST(VariantMapping, NumberKeyedDictsAreRefused) {
  std::map<std::int32_t, std::string> dict{{1, "a"}};
  const auto sentence = refusal(sdbus::Variant(dict));
  EXPECT_NE(sentence.find("keys must be strings"), std::string::npos) << sentence;
}

TEST(VariantMapping, UnixFdsAreRefused) {
  const auto sentence = refusal(sdbus::Variant(sdbus::UnixFd(STDIN_FILENO)));
  EXPECT_NE(sentence.find("unix fd"), std::string::npos) << sentence;
}

TEST(VariantMapping, AnEmptyVariantIsRefused) {
  (void)refusal(sdbus::Variant());
}

TEST(VariantMapping, DeepNestingIsRefused) {
  sdbus::Variant value(1);
  for (int i = 0; i < 40; ++i) value = sdbus::Variant(std::vector<sdbus::Variant>{value});
  EXPECT_NE(refusal(value).find("nested deeper"), std::string::npos);
}

TEST(VariantMapping, MapOfArgumentsKeepsKeys) {
  std::map<std::string, sdbus::Variant> values{{"temp", sdbus::Variant(21.5)},
                                               {"door", sdbus::Variant(std::string("open"))}};
  auto map = variants_to_map(values, "values");
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(*map, (Map{{"door", "open"}, {"temp", 21.5}}));
  values.emplace("bad", sdbus::Variant(sdbus::Struct<std::int32_t>(1)));
  auto refused = variants_to_map(values, "values");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("values.bad"), std::string::npos);
}

}  // namespace
}  // namespace tether::dbus
