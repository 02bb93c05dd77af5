// What tetherd does with what the backend sends: limits, text frames, garbage,
// unknown protocols and the control protocol.
#include "protocol/codec.hpp"
#include "tests/integration/daemon/daemon_fixture.hpp"
#include "tests/support/body_fields.hpp"

namespace tether::test {
namespace {

constexpr std::uint16_t kControl = 0xFFFF;

// The next control message of type `typ`, skipping others.
std::optional<protocol::ProtoMsg> next_control(TestServer& server, const std::string& typ) {
  for (int i = 0; i < 10; ++i) {
    auto msg = server.receive_message(3s);
    if (!msg) return std::nullopt;
    if (msg->hdr.proto == kControl && msg->hdr.typ == typ) return msg;
  }
  return std::nullopt;
}

protocol::Value body_of(const protocol::ProtoMsg& msg) {
  auto value = protocol::decode_value(msg.body);
  return value ? *value : protocol::Value();
}

TEST_F(DaemonTest, OversizeMessageIsClosedWith1009AndTheDaemonReconnects) {
  start_daemon({"--server.max-message=1024"});
  expect_connection();
  ASSERT_TRUE(server_->send_binary(std::vector<std::uint8_t>(1024, 0x00)));  // at the limit: fine
  ASSERT_TRUE(server_->send_binary(std::vector<std::uint8_t>(4096, 0x00)));
  auto code = server_->wait_for_close(3s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1009);
  expect_connection(3s);
}

TEST_F(DaemonTest, TextMessageIsClosedWith1003) {
  auto& daemon = start_daemon();
  expect_connection();
  ASSERT_TRUE(server_->send_text("hello"));
  auto code = server_->wait_for_close(3s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1003);
  expect_connection(3s);
  EXPECT_TRUE(daemon.running());
}

TEST_F(DaemonTest, GarbageGetsAControlErrorAndTheLinkStays) {
  start_daemon();
  expect_connection();
  ASSERT_TRUE(server_->send_binary({0xc1, 0xff, 0x00}));
  auto error = next_control(*server_, "error");
  ASSERT_TRUE(error.has_value());
  const auto body = body_of(*error);
  EXPECT_EQ(bool_field(body, "close"), false);
  EXPECT_TRUE(str_field(body, "err").has_value());

  // Still the same link: a control ping is answered with a pong of the same sid.
  ASSERT_TRUE(server_->send(protocol::make_msg(kControl, "ping", "sid-7")));
  auto pong = next_control(*server_, "pong");
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->hdr.sid, "sid-7");
  EXPECT_EQ(server_->connection_count(), 1);
}

TEST_F(DaemonTest, UnknownProtocolAndTypeGetControlErrorsNamingThem) {
  start_daemon();
  expect_connection();
  ASSERT_TRUE(server_->send(protocol::make_msg(0x0042, "frobnicate", "s1")));
  auto error = next_control(*server_, "error");
  ASSERT_TRUE(error.has_value());
  auto body = body_of(*error);
  EXPECT_EQ(uint_field(body, "msgproto"), 0x42u);
  EXPECT_EQ(str_field(body, "msgtype"), "frobnicate");
  EXPECT_EQ(bool_field(body, "close"), false);

  ASSERT_TRUE(server_->send(protocol::make_msg(kControl, "bogus", "s2")));
  error = next_control(*server_, "error");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(str_field(body_of(*error), "msgtype"), "bogus");
  EXPECT_EQ(server_->connection_count(), 1);
}

TEST_F(DaemonTest, ControlOpenIsAcceptedForVersion1AndRefusedOtherwise) {
  start_daemon();
  expect_connection();
  protocol::Map v1{{"versions", protocol::Array{protocol::Value(1)}}};
  ASSERT_TRUE(server_->send(
      protocol::make_msg(kControl, "open", "s1", {}, protocol::encode_value(protocol::Value(v1)))));
  auto accept = next_control(*server_, "accept");
  ASSERT_TRUE(accept.has_value());
  EXPECT_EQ(accept->hdr.sid, "s1");
  auto body = body_of(*accept);
  EXPECT_EQ(uint_field(body, "version"), 1u);
  // The shell is disabled in these tests, and nothing else is session-based yet.
  EXPECT_EQ(array_size(body, "protocols"), 0u);

  protocol::Map v2{{"versions", protocol::Array{protocol::Value(2)}}};
  ASSERT_TRUE(server_->send(
      protocol::make_msg(kControl, "open", "s2", {}, protocol::encode_value(protocol::Value(v2)))));
  auto error = next_control(*server_, "error");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->hdr.sid, "s2");
  EXPECT_EQ(bool_field(body_of(*error), "close"), true);
}

}  // namespace
}  // namespace tether::test
