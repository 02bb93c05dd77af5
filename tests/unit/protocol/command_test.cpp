// Command bodies (wire.md section 5.4): schemas, id echo for invalid requests, bounds.
#include "protocol/command.hpp"

#include <gtest/gtest.h>

#include "protocol/codec.hpp"
#include "tests/unit/protocol/schema_checks.hpp"

namespace tether::protocol::command {
namespace {

using testing::check_schema;
using testing::decode_error;
using testing::with;

Map valid_request() {
  return {{"id", "c-1"},
          {"target", "relay"},
          {"action", "on"},
          {"args", Map{{"channel", 2}}},
          {"timeout_s", 5}};
}

TEST(Command, RequestSchema) {
  check_schema<Request>(valid_request(), {"args", "timeout_s"});
}

TEST(Command, ResultSchema) {
  check_schema<ResultBody>(Map{{"id", "c-1"},
                               {"status", "error"},
                               {"ret", Map{{"x", 1}}},
                               {"err", "relay stuck"},
                               {"ts", std::int64_t{1700000000000}}},
                           {"ret", "err"});
}

TEST(Command, AckSchema) {
  check_schema<Ack>(Map{{"id", "c-1"}}, {});
}

TEST(Command, TargetsSchema) {
  check_schema<Targets>(Map{{"targets", Array{Value("relay"), Value("valve")}}}, {});
  Result<Targets> empty = testing::decode_map<Targets>(Map{{"targets", Array{}}});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->targets.empty());
  std::string message = decode_error<Targets>(Map{{"targets", Array{Value("relay"), Value(3)}}});
  EXPECT_NE(message.find("targets: expected an array of str"), std::string::npos) << message;
}

TEST(Command, ResultStatusMustBeKnown) {
  std::string message = decode_error<ResultBody>(Map{{"id", "c"}, {"status", "maybe"}, {"ts", 1}});
  EXPECT_NE(message.find("status"), std::string::npos) << message;
  for (std::string_view status : kStatuses) {
    EXPECT_TRUE(testing::decode_map<ResultBody>(
                    Map{{"id", "c"}, {"status", std::string(status)}, {"ts", 1}})
                    .ok())
        << status;
  }
}

TEST(Command, RequestNamesMustBeNonEmptyAndBounded) {
  for (const char* key : {"id", "target", "action"}) {
    SCOPED_TRACE(key);
    std::string empty = decode_error<Request>(with(valid_request(), key, ""));
    EXPECT_NE(empty.find(std::string(key) + ": is empty"), std::string::npos) << empty;
    std::string longest(kMaxIdBytes, 'x');
    EXPECT_TRUE(testing::decode_map<Request>(with(valid_request(), key, longest)).ok());
    std::string oversize =
        decode_error<Request>(with(valid_request(), key, std::string(kMaxIdBytes + 1, 'x')));
    EXPECT_NE(oversize.find("longer than"), std::string::npos) << oversize;
  }
}

TEST(Command, PeekIdEchoesWhatCanBeRead) {
  // A request with a wrong field still has a readable id.
  Bytes wrong_target = encode_value(Value(with(valid_request(), "target", 7)));
  EXPECT_FALSE(Request::decode(wrong_target).ok());
  EXPECT_EQ(peek_id(wrong_target), std::optional<std::string>("c-1"));
  // Nothing to echo: not a map, truncated, id missing, of another type, oversize.
  EXPECT_EQ(peek_id(encode_value(Value("garbage"))), std::nullopt);
  Bytes valid = encode_value(Value(valid_request()));
  for (std::size_t length = 0; length < valid.size(); ++length) {
    EXPECT_EQ(peek_id(std::span(valid.data(), length)), std::nullopt) << "cut at " << length;
  }
  EXPECT_EQ(peek_id(encode_value(Value(testing::without(valid_request(), "id")))), std::nullopt);
  EXPECT_EQ(peek_id(encode_value(Value(with(valid_request(), "id", 42)))), std::nullopt);
  EXPECT_EQ(peek_id(encode_value(Value(with(valid_request(), "id", "")))), std::nullopt);
  EXPECT_EQ(
      peek_id(encode_value(Value(with(valid_request(), "id", std::string(kMaxIdBytes + 1, 'i'))))),
      std::nullopt);
  Bytes garbage = {0xc1, 0xff, 0x00, 0x13};
  EXPECT_EQ(peek_id(garbage), std::nullopt);
  EXPECT_FALSE(Request::decode(garbage).ok());
}

TEST(Command, OversizeContainersAreRefused) {
  // A map claiming far more entries than the body holds is refused, not allocated.
  Bytes claim = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa2, 'i', 'd'};
  EXPECT_FALSE(Request::decode(claim).ok());
  EXPECT_EQ(peek_id(claim), std::nullopt);
  DecodeLimits tight;
  tight.max_container_entries = 2;
  Bytes request = encode_value(Value(valid_request()));
  EXPECT_FALSE(Request::decode(request, tight).ok());
}

}  // namespace
}  // namespace tether::protocol::command
