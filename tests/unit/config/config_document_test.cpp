// What a config `set` does to the stored document (wire.md 5.2, docs/config.md).
#include "plugins/config/config_document.hpp"

#include <gtest/gtest.h>

namespace tether::plugins::config {
namespace {

using protocol::Array;
using protocol::Bytes;
using protocol::ConfigSet;
using protocol::Map;
using protocol::Value;

ConfigDocument stored() {
  return {4, Map{{"a", 1}, {"b", "two"}, {"nested", Map{{"x", 1}, {"y", Map{{"z", true}}}}}}};
}

TEST(ConfigDocument, MergeSetsAddsAndKeepsTheRest) {
  auto change = apply_set(stored(), ConfigSet{5, Map{{"b", "deux"}, {"c", 3.5}}, std::nullopt}, {});
  ASSERT_TRUE(change.ok()) << change.error().message();
  EXPECT_EQ(change->next.version, 5U);
  EXPECT_EQ(change->next.values,
            (Map{{"a", 1}, {"b", "deux"}, {"nested", stored().values[2].second}, {"c", 3.5}}));
  EXPECT_EQ(change->changed, (Map{{"b", "deux"}, {"c", 3.5}}));
  EXPECT_TRUE(change->removed.empty());
}

TEST(ConfigDocument, NilDeletesAKeyAndOnlyReportsKeysThatWereThere) {
  auto change =
      apply_set(stored(), ConfigSet{5, Map{{"a", nullptr}, {"ghost", nullptr}}, false}, {});
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(change->next.values, (Map{{"b", "two"}, {"nested", stored().values[2].second}}));
  EXPECT_TRUE(change->changed.empty());
  EXPECT_EQ(change->removed, std::vector<std::string>{"a"});
}

TEST(ConfigDocument, UnchangedValuesAreNotAnnounced) {
  auto change = apply_set(stored(), ConfigSet{5, Map{{"a", 1}, {"b", "2"}}, std::nullopt}, {});
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(change->changed, (Map{{"b", "2"}}));
}

TEST(ConfigDocument, NestedMapsAreReplacedAsOneValue) {
  auto change =
      apply_set(stored(), ConfigSet{5, Map{{"nested", Map{{"y", Map{{"z", false}}}}}}, {}}, {});
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(*protocol::find(change->next.values, "nested"), Value(Map{{"y", Map{{"z", false}}}}));
}

TEST(ConfigDocument, ReplaceDropsEveryOtherKeyAndIgnoresNils) {
  auto change = apply_set(
      stored(), ConfigSet{6, Map{{"b", "two"}, {"d", nullptr}, {"e", Array{}}}, true}, {});
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(change->next.values, (Map{{"b", "two"}, {"e", Array{}}}));
  EXPECT_EQ(change->changed, (Map{{"e", Array{}}}));
  EXPECT_EQ(change->removed, (std::vector<std::string>{"a", "nested"}));
}

TEST(ConfigDocument, DepthLimit) {
  ConfigLimits limits;
  limits.max_depth = 2;
  EXPECT_TRUE(apply_set({}, ConfigSet{1, Map{{"k", Array{Map{{"x", 1}}}}}, {}}, limits).ok());
  auto deep = apply_set({}, ConfigSet{1, Map{{"k", Array{Map{{"x", Array{}}}}}}, {}}, limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(deep.error().message().find("values.k"), std::string::npos) << deep.error().message();
}

TEST(ConfigDocument, SizeLimitCountsTheWholeStoredDocument) {
  ConfigLimits limits;
  limits.max_bytes = 100;
  ConfigDocument big{1, Map{{"a", std::string(60, 'a')}}};
  EXPECT_TRUE(apply_set(big, ConfigSet{2, Map{{"b", "small"}}, {}}, limits).ok());
  auto over = apply_set(big, ConfigSet{2, Map{{"b", std::string(40, 'b')}}, {}}, limits);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message().find("config.max-bytes"), std::string::npos);
  // Replacing frees the old key's room.
  EXPECT_TRUE(apply_set(big, ConfigSet{2, Map{{"b", std::string(40, 'b')}}, true}, limits).ok());
}

TEST(ConfigDocument, DuplicateKeysAreRefused) {
  auto twice = apply_set({}, ConfigSet{1, Map{{"k", 1}, {"k", 2}}, {}}, {});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ConfigDocument, StoredFormRoundTripsAndRefusesGarbage) {
  ConfigDocument document{7, Map{{"raw", Bytes{0, 255}}, {"u", std::uint64_t{1} << 63U}}};
  auto back = ConfigDocument::decode(document.encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, document);
  EXPECT_FALSE(ConfigDocument::decode(Bytes{0xc1}).ok());
  Bytes truncated = document.encode();
  truncated.pop_back();
  EXPECT_FALSE(ConfigDocument::decode(truncated).ok());
}

TEST(ConfigDocument, ManyKeysStayFast) {
  Map many;
  for (int i = 0; i < 50000; ++i) many.emplace_back("k" + std::to_string(i), i);
  ConfigLimits limits;
  limits.max_bytes = std::size_t{8} << 20U;
  auto first = apply_set({}, ConfigSet{1, many, {}}, limits);
  ASSERT_TRUE(first.ok());
  auto second = apply_set(first->next, ConfigSet{2, many, {}}, limits);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->changed.empty());
}

}  // namespace
}  // namespace tether::plugins::config
