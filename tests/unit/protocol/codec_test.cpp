// The generic msgpack codec: smallest-form encoding, exact round trips, and every
// DecodeLimits bound (depth, entries, claims against the remaining bytes, memory).
#include "protocol/codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "protocol/writer.hpp"
#include "tests/unit/protocol/hex.hpp"

namespace tether::protocol {
namespace {

using testing::from_hex;
using testing::to_hex;

std::string error_of(const Bytes& bytes, const DecodeLimits& limits = {}) {
  Result<Value> value = decode_value(bytes, limits);
  EXPECT_FALSE(value.ok()) << to_hex(bytes).substr(0, 64) << " decoded, expected an error";
  return value.ok() ? std::string() : value.error().message();
}

Bytes nested_arrays(std::size_t depth) {
  Bytes bytes(depth - 1, 0x91);  // [ [ [ ...
  bytes.push_back(0x90);         // the innermost, empty
  return bytes;
}

TEST(Codec, SmallestIntegerForms) {
  EXPECT_EQ(to_hex(encode_value(0)), "00");
  EXPECT_EQ(to_hex(encode_value(127)), "7f");
  EXPECT_EQ(to_hex(encode_value(128)), "cc80");
  EXPECT_EQ(to_hex(encode_value(256)), "cd0100");
  EXPECT_EQ(to_hex(encode_value(65536)), "ce00010000");
  EXPECT_EQ(to_hex(encode_value(std::int64_t{1} << 32)), "cf0000000100000000");
  EXPECT_EQ(to_hex(encode_value(-1)), "ff");
  EXPECT_EQ(to_hex(encode_value(-32)), "e0");
  EXPECT_EQ(to_hex(encode_value(-33)), "d0df");
  EXPECT_EQ(to_hex(encode_value(-129)), "d1ff7f");
  EXPECT_EQ(to_hex(encode_value(-32769)), "d2ffff7fff");
  EXPECT_EQ(to_hex(encode_value(std::numeric_limits<std::int64_t>::min())), "d38000000000000000");
  EXPECT_EQ(to_hex(encode_value(std::numeric_limits<std::uint64_t>::max())), "cfffffffffffffffff");
}

TEST(Codec, OtherTypes) {
  EXPECT_EQ(to_hex(encode_value(nullptr)), "c0");
  EXPECT_EQ(to_hex(encode_value(true)), "c3");
  EXPECT_EQ(to_hex(encode_value(false)), "c2");
  EXPECT_EQ(to_hex(encode_value(1.0)), "cb3ff0000000000000");
  EXPECT_EQ(to_hex(encode_value("ab")), "a26162");
  EXPECT_EQ(to_hex(encode_value(std::string(32, 'x'))).substr(0, 4), "d920");
  EXPECT_EQ(to_hex(encode_value(Bytes{1})), "c40101");
  EXPECT_EQ(to_hex(encode_value(Array{1, 2})), "920102");
  EXPECT_EQ(to_hex(encode_value(Map{{"b", 1}, {"a", 2}})), "82a16201a16102");  // insertion order
}

TEST(Codec, RoundTripKeepsNumericValueAcrossWidths) {
  // uint64 and int64 encodings of the same number decode to the same Value.
  Result<Value> wide = decode_value(from_hex("cf0000000000000005"));
  Result<Value> narrow = decode_value(from_hex("d30000000000000005"));
  ASSERT_TRUE(wide.ok() && narrow.ok());
  EXPECT_EQ(*wide, *narrow);
  EXPECT_EQ(wide->as_int(), 5);
  Result<Value> huge = decode_value(from_hex("cfffffffffffffffff"));
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->as_uint(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(huge->as_int(), std::nullopt);
}

TEST(Codec, Float32DecodesAsDouble) {
  Result<Value> f = decode_value(from_hex("ca3fc00000"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->as_float(), 1.5);
}

TEST(Codec, RoundTripsNestedValues) {
  Value value(Map{
      {"a", Array{nullptr, true, -1, 1.25, "s", Bytes{0xff}, Map{{"deep", Array{Array{Map{}}}}}}},
      {"u", std::uint64_t{1} << 63}});
  Result<Value> back = decode_value(encode_value(value));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, value);
}

TEST(CodecLimits, DepthBomb) {
  EXPECT_TRUE(decode_value(nested_arrays(32)).ok());
  std::string message = error_of(nested_arrays(33));
  EXPECT_NE(message.find("nesting deeper than 32"), std::string::npos) << message;
  // Far deeper, as a hostile peer would send: refused as soon as depth 33 opens.
  EXPECT_FALSE(decode_value(nested_arrays(100000)).ok());
  // Maps count as levels too.
  Bytes maps;
  for (int i = 0; i < 33; ++i) {
    maps.push_back(0x81);
    maps.push_back(0xa1);
    maps.push_back('k');
  }
  maps.push_back(0xc0);
  EXPECT_FALSE(decode_value(maps).ok());
  maps.erase(maps.begin(), maps.begin() + 3);
  EXPECT_TRUE(decode_value(maps).ok());
}

TEST(CodecLimits, ConfigurableDepth) {
  DecodeLimits limits;
  limits.max_depth = 2;
  EXPECT_TRUE(decode_value(nested_arrays(2), limits).ok());
  EXPECT_FALSE(decode_value(nested_arrays(3), limits).ok());
}

TEST(CodecLimits, EntriesPerContainer) {
  Writer writer;
  writer.array_header(65536);
  for (int i = 0; i < 65536; ++i) writer.nil();
  Result<Value> at_limit = decode_value(writer.take());
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().message();
  const Array* items = at_limit->as_array();
  ASSERT_NE(items, nullptr);
  EXPECT_EQ(items->size(), 65536U);

  writer.array_header(65537);
  for (int i = 0; i < 65537; ++i) writer.nil();
  std::string message = error_of(writer.take());
  EXPECT_NE(message.find("array of 65537 entries exceeds the limit of 65536"), std::string::npos)
      << message;

  writer.map_header(65537);
  for (int i = 0; i < 65537; ++i) {
    writer.str(std::to_string(i));
    writer.nil();
  }
  EXPECT_FALSE(decode_value(writer.take()).ok());
}

TEST(CodecLimits, ClaimsLargerThanTheInput) {
  // array32 / map32 claiming 2^32-1 entries followed by a few bytes.
  EXPECT_NE(error_of(from_hex("ddffffffff010203")).find("exceeds the limit"), std::string::npos);
  EXPECT_FALSE(decode_value(from_hex("dfffffffffa16101")).ok());
  // Under the entry limit but more than the remaining bytes could hold.
  std::string message = error_of(from_hex("dc100001020304"));
  EXPECT_NE(message.find("array claims 4096 entries but at most 4 bytes remain"), std::string::npos)
      << message;
  message = error_of(from_hex("de0003a16101a16202"));  // map of 3 with 6 bytes: needs >= 6
  EXPECT_NE(message.find("input ends"), std::string::npos) << message;
  message = error_of(from_hex("84a16101a16202"));  // map of 4 with 6 bytes: needs >= 8
  EXPECT_NE(message.find("map claims 4 entries but at most 6 bytes remain"), std::string::npos)
      << message;
  // The remaining count is an upper bound (the parser does not say how wide a header
  // was, so the builder assumes the narrowest): map16 of 5 with 6 bytes is caught too.
  EXPECT_NE(error_of(from_hex("de0005a16101a16202")).find("map claims 5"), std::string::npos);
  // Nested: the inner claim is checked against what is left after the outer header.
  EXPECT_FALSE(decode_value(from_hex("91dc0005010203")).ok());
}

TEST(CodecLimits, StrAndBinLongerThanTheInput) {
  for (std::string hex : {"dbffffffff616263", "c6ffffffff616263", "da0400616263", "c50400616263",
                          "d9ff61", "c4ff61", "a561626364"}) {
    EXPECT_FALSE(decode_value(from_hex(hex)).ok()) << hex;
  }
  EXPECT_FALSE(decode_value(from_hex("91dbffffffff61")).ok());
}

TEST(CodecLimits, MemoryBudget) {
  // 20000 nils in an array cost 20000 nodes: fine at the default factor...
  Writer writer;
  writer.array_header(20000);
  for (int i = 0; i < 20000; ++i) writer.nil();
  Bytes nils = writer.take();
  EXPECT_TRUE(decode_value(nils).ok());
  // ...refused when the budget is a small multiple of the input.
  DecodeLimits tight;
  tight.expansion_factor = 4;
  tight.expansion_slack = 0;
  std::string message = error_of(nils, tight);
  EXPECT_NE(message.find("more than 4x the message size"), std::string::npos) << message;
}

TEST(CodecErrors, ExtensionTypesAnywhere) {
  for (std::string hex : {"d40100",                                // fixext 1
                          "d5010000",                              // fixext 2
                          "d60100000000",                          // fixext 4
                          "d7010000000000000000",                  // fixext 8
                          "d80100000000000000000000000000000000",  // fixext 16
                          "c70101ff",                              // ext 8
                          "c8000101ff",                            // ext 16
                          "c90000000101ff",                        // ext 32
                          "91d40100", "81a16bd40100", "82a16101a16292d40100"}) {
    std::string message = error_of(from_hex(hex));
    EXPECT_NE(message.find("extension"), std::string::npos) << hex << ": " << message;
  }
}

TEST(CodecErrors, NonStringMapKeys) {
  for (std::string hex :
       {"8101c0", "81c0c0", "81c3c0", "81c40161c0", "819001", "818001", "81cb3ff000000000000001"}) {
    std::string message = error_of(from_hex(hex));
    EXPECT_NE(message.find("map key is"), std::string::npos) << hex << ": " << message;
  }
}

TEST(CodecErrors, TrailingBytesAndTruncation) {
  EXPECT_EQ(error_of(from_hex("c0c0")), "msgpack: 1 trailing bytes after the value");
  EXPECT_FALSE(decode_value(from_hex("92")).ok());
  EXPECT_FALSE(decode_value(from_hex("cd00")).ok());
  EXPECT_FALSE(decode_value({}).ok());
}

TEST(CodecErrors, ReservedByte) {
  EXPECT_NE(error_of(from_hex("c1")).find("invalid msgpack type byte"), std::string::npos);
  EXPECT_NE(error_of(from_hex("9201c1")).find("invalid msgpack type byte"), std::string::npos);
  EXPECT_NE(error_of(from_hex("81a161c1")).find("at a"), std::string::npos);
}

TEST(CodecErrors, ErrorsSayWhere) {
  std::string message = error_of(from_hex("81a16181a162d40100"));
  EXPECT_NE(message.find("(at a.b)"), std::string::npos) << message;
  message = error_of(from_hex("9301c0d40100"));
  EXPECT_NE(message.find("(at [2])"), std::string::npos) << message;
}

TEST(Value, Accessors) {
  EXPECT_EQ(Value(-1).as_uint(), std::nullopt);
  EXPECT_EQ(Value(std::uint64_t{5}).as_int(), 5);
  EXPECT_EQ(Value(5).as_float(), std::nullopt);
  EXPECT_EQ(Value("x").as_bool(), std::nullopt);
  Map map{{"a", 1}, {"n", nullptr}};
  EXPECT_EQ(find(map, "n"), nullptr);
  EXPECT_EQ(find(map, "zz"), nullptr);
  ASSERT_NE(find(map, "a"), nullptr);
  set(map, "a", 2);
  set(map, "b", 3);
  EXPECT_EQ(map, (Map{{"a", 2}, {"n", nullptr}, {"b", 3}}));
  EXPECT_EQ(Value(map).find("b")->as_int(), 3);
  EXPECT_EQ(type_name(Value(Bytes{})), "bin");
}

}  // namespace
}  // namespace tether::protocol
