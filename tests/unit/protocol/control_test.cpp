// Control bodies (wire.md section 3), including the two body vectors.
#include "protocol/control.hpp"

#include <gtest/gtest.h>

#include "protocol/message.hpp"
#include "tests/unit/protocol/hex.hpp"
#include "tests/unit/protocol/schema_checks.hpp"

namespace tether::protocol {
namespace {

using testing::check_schema;
using testing::decode_error;
using testing::from_hex;
using testing::to_hex;
namespace vectors = testing::vectors;

TEST(Control, OpenVectorBody) {
  Result<ProtoMsg> msg = decode(from_hex(vectors::kControlOpen));
  ASSERT_TRUE(msg.ok());
  Result<ControlOpen> open = ControlOpen::decode(msg->body);
  ASSERT_TRUE(open.ok()) << open.error().message();
  EXPECT_EQ(open->versions, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(to_hex(open->encode()), to_hex(msg->body));
  EXPECT_EQ(to_hex(encode(
                make_msg(proto::kControl, control::kOpen, "s1", {}, ControlOpen{{1}}.encode()))),
            vectors::kControlOpen);
}

TEST(Control, AcceptVector) {
  Result<ControlAccept> accept = ControlAccept::decode(from_hex(vectors::kControlAcceptBody));
  ASSERT_TRUE(accept.ok()) << accept.error().message();
  EXPECT_EQ(accept->version, 1U);
  EXPECT_EQ(accept->protocols, (std::vector<std::uint16_t>{1, 2, 3, 4}));
  EXPECT_EQ(to_hex(accept->encode()), vectors::kControlAcceptBody);
  EXPECT_EQ(to_hex(ControlAccept{1, {1, 2, 3, 4}}.encode()), vectors::kControlAcceptBody);
}

TEST(Control, ErrorVector) {
  Result<ControlError> error = ControlError::decode(from_hex(vectors::kControlErrorBody));
  ASSERT_TRUE(error.ok()) << error.error().message();
  EXPECT_EQ(error->err, "session timeout");
  EXPECT_TRUE(error->close);
  EXPECT_FALSE(error->msgproto || error->msgtype || error->msgid);
  EXPECT_EQ(to_hex(error->encode()), vectors::kControlErrorBody);
  ControlError built;
  built.err = "session timeout";
  built.close = true;
  EXPECT_EQ(to_hex(built.encode()), vectors::kControlErrorBody);
}

TEST(Control, ErrorWithEveryFieldRoundTrips) {
  ControlError error{"unknown typ", false, proto::kMonitoring, "bogus", "m-1"};
  Result<ControlError> back = ControlError::decode(error.encode());
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, error);
  // msgproto is written as uint16, like hdr.proto.
  EXPECT_NE(to_hex(error.encode()).find("a86d736770726f746fcd0010"), std::string::npos);
}

TEST(Control, OpenSchema) {
  check_schema<ControlOpen>(Map{{"versions", Array{1, 2}}}, {});
}

TEST(Control, AcceptSchema) {
  check_schema<ControlAccept>(Map{{"version", 1}, {"protocols", Array{1, 0xffff}}}, {});
}

TEST(Control, ErrorSchema) {
  check_schema<ControlError>(
      Map{{"err", "bad"}, {"close", true}, {"msgproto", 16}, {"msgtype", "x"}, {"msgid", "y"}},
      {"msgproto", "msgtype", "msgid"});
}

TEST(Control, ListItemsAreChecked) {
  EXPECT_EQ(decode_error<ControlOpen>(Map{{"versions", Array{1, "2"}}}),
            "control open: versions[1]: expected an unsigned integer, got str");
  EXPECT_EQ(decode_error<ControlAccept>(Map{{"version", 1}, {"protocols", Array{65536}}}),
            "control accept: protocols[0]: 65536 is larger than 65535");
  EXPECT_EQ(decode_error<ControlAccept>(Map{{"version", -1}, {"protocols", Array{}}}),
            "control accept: version: expected an unsigned integer, got negative int -1");
  EXPECT_EQ(decode_error<ControlError>(Map{{"err", "x"}, {"close", false}, {"msgproto", 70000}}),
            "control error: msgproto: 70000 is not a protocol number (0..65535)");
}

TEST(Control, EmptyBodyIsAnError) {
  Result<ControlOpen> open = ControlOpen::decode({});
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().message(), "control open: body: missing (expected a msgpack map)");
}

}  // namespace
}  // namespace tether::protocol
