#include "daemon/router/router.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "tests/support/body_fields.hpp"

namespace tether::daemon {
namespace {

using protocol::ProtoMsg;
constexpr std::uint16_t kControl = 0xFFFF;

// Records what the router sends.
class RecordingOutbound final : public Outbound {
 public:
  Status send(const ProtoMsg& msg, Priority priority, std::string_view) override {
    sent.push_back({msg, priority});
    return {};
  }
  std::size_t queued_bytes(std::string_view) const override { return 0; }
  std::size_t total_queued_bytes() const override { return 0; }
  void when_drained(std::string_view, std::size_t, std::size_t, std::function<void()>) override {}
  void cancel_drained(std::string_view) override {}
  bool connected() const override { return true; }

  struct Sent {
    ProtoMsg msg;
    Priority priority;
  };
  std::vector<Sent> sent;
};

class RecordingHandler final : public ProtocolHandler {
 public:
  Status on_message(const ProtoMsg& msg) override {
    messages.push_back(msg);
    if (msg.hdr.typ == "bad") return Error("unknown message type 'bad'");
    return {};
  }
  void on_connected() override { ++connected; }
  void on_disconnected() override { ++disconnected; }
  void on_shutdown() override { ++shutdowns; }
  void on_session_closed(std::string_view sid) override { closed.emplace_back(sid); }

  std::vector<ProtoMsg> messages;
  std::vector<std::string> closed;
  int connected = 0;
  int disconnected = 0;
  int shutdowns = 0;
};

using test::bool_field;
using test::str_field;
using test::uint_field;

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : router_(outbound_, logger_) {}

  protocol::Value last_body() const {
    auto value = protocol::decode_value(outbound_.sent.back().msg.body);
    return value ? *value : protocol::Value();
  }
  const protocol::ProtoHdr& last_hdr() const { return outbound_.sent.back().msg.hdr; }

  log::Logger logger_{log::Level::kError};
  RecordingOutbound outbound_;
  Router router_;
};

TEST_F(RouterTest, DispatchesByProtocolNumber) {
  RecordingHandler shell;
  RecordingHandler monitoring;
  ASSERT_TRUE(router_.add_handler(0x0001, shell, true).ok());
  ASSERT_TRUE(router_.add_handler(0x0010, monitoring, false).ok());
  EXPECT_FALSE(router_.add_handler(0x0001, monitoring, false).ok());
  EXPECT_FALSE(router_.add_handler(kControl, monitoring, false).ok());
  router_.on_link_message(protocol::make_msg(0x0001, "new", "s1"));
  router_.on_link_message(protocol::make_msg(0x0010, "ack"));
  ASSERT_EQ(shell.messages.size(), 1u);
  EXPECT_EQ(shell.messages[0].hdr.sid, "s1");
  ASSERT_EQ(monitoring.messages.size(), 1u);
  EXPECT_TRUE(outbound_.sent.empty());
}

TEST_F(RouterTest, ForwardsLinkEventsAndShutdownOnce) {
  RecordingHandler h;
  ASSERT_TRUE(router_.add_handler(0x0001, h, true).ok());
  router_.on_link_up();
  router_.on_link_down();
  router_.shutdown();
  router_.shutdown();
  EXPECT_EQ(h.connected, 1);
  EXPECT_EQ(h.disconnected, 1);
  EXPECT_EQ(h.shutdowns, 1);
}

TEST_F(RouterTest, UnknownProtocolIsAnsweredWithControlErrorCloseFalse) {
  router_.on_link_message(protocol::make_msg(0x0042, "x", "s9"));
  ASSERT_EQ(outbound_.sent.size(), 1u);
  EXPECT_EQ(last_hdr().proto, kControl);
  EXPECT_EQ(last_hdr().typ, "error");
  EXPECT_EQ(last_hdr().sid, "s9");
  EXPECT_EQ(outbound_.sent.back().priority, Priority::kControl);
  const auto body = last_body();
  EXPECT_EQ(bool_field(body, "close"), false);
  EXPECT_EQ(uint_field(body, "msgproto"), 0x42u);
  EXPECT_EQ(str_field(body, "msgtype"), "x");
}

TEST_F(RouterTest, HandlerErrorsBecomeControlErrors) {
  RecordingHandler h;
  ASSERT_TRUE(router_.add_handler(0x0001, h, true).ok());
  protocol::Map props{{"msgid", protocol::Value("m-1")}};
  router_.on_link_message(protocol::make_msg(0x0001, "bad", "s1", props));
  ASSERT_EQ(outbound_.sent.size(), 1u);
  const auto body = last_body();
  EXPECT_NE(str_field(body, "err").value_or("").find("bad"), std::string::npos);
  EXPECT_EQ(str_field(body, "msgid"), "m-1");
}

TEST_F(RouterTest, UndecodableMessageGetsAnErrorWithoutMessageFields) {
  router_.on_link_garbage(Error("not a map"));
  ASSERT_EQ(outbound_.sent.size(), 1u);
  EXPECT_EQ(last_hdr().typ, "error");
  const auto body = last_body();
  EXPECT_EQ(bool_field(body, "close"), false);
  EXPECT_EQ(body.find("msgproto"), nullptr);
}

TEST_F(RouterTest, ControlPingIsAnsweredWithPongOfTheSameSid) {
  router_.on_link_message(protocol::make_msg(kControl, "ping", "abc"));
  ASSERT_EQ(outbound_.sent.size(), 1u);
  EXPECT_EQ(last_hdr().typ, "pong");
  EXPECT_EQ(last_hdr().sid, "abc");
  EXPECT_EQ(outbound_.sent.back().priority, Priority::kControl);
  router_.on_link_message(protocol::make_msg(kControl, "pong", "abc"));
  EXPECT_EQ(outbound_.sent.size(), 1u);
}

TEST_F(RouterTest, ControlOpenAcceptsVersion1ListingSessionProtocols) {
  RecordingHandler shell;
  RecordingHandler monitoring;
  ASSERT_TRUE(router_.add_handler(0x0001, shell, true).ok());
  ASSERT_TRUE(router_.add_handler(0x0010, monitoring, false).ok());
  protocol::Map open{{"versions", protocol::Array{protocol::Value(1)}}};
  router_.on_link_message(protocol::make_msg(kControl, "open", "s1", {},
                                             protocol::encode_value(protocol::Value(open))));
  ASSERT_EQ(outbound_.sent.size(), 1u);
  EXPECT_EQ(last_hdr().typ, "accept");
  EXPECT_EQ(last_hdr().sid, "s1");
  // Byte for byte as the Go peer: protocols as uint16.
  EXPECT_EQ(outbound_.sent.back().msg.body,
            (protocol::Bytes{0x82, 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n',  0x01, 0xa9, 'p',
                             'r',  'o',  't', 'o', 'c', 'o', 'l', 's', 0x91, 0xcd, 0x00, 0x01}));
  EXPECT_EQ(router_.open_control_sessions(), 1u);
  router_.on_link_message(protocol::make_msg(kControl, "close", "s1"));
  EXPECT_EQ(router_.open_control_sessions(), 0u);
}

TEST_F(RouterTest, ControlOpenWithoutVersion1IsRefusedWithCloseTrue) {
  for (const protocol::Bytes& body : {protocol::encode_value(protocol::Value(protocol::Map{
                                          {"versions", protocol::Array{protocol::Value(2)}}})),
                                      protocol::Bytes{}, protocol::Bytes{0xc1}}) {
    outbound_.sent.clear();
    router_.on_link_message(protocol::make_msg(kControl, "open", "s2", {}, body));
    ASSERT_EQ(outbound_.sent.size(), 1u);
    EXPECT_EQ(last_hdr().typ, "error");
    EXPECT_EQ(bool_field(last_body(), "close"), true);
  }
  EXPECT_EQ(router_.open_control_sessions(), 0u);
}

TEST_F(RouterTest, UnknownControlTypeIsAnError) {
  router_.on_link_message(protocol::make_msg(kControl, "teleport", "s"));
  ASSERT_EQ(outbound_.sent.size(), 1u);
  EXPECT_EQ(last_hdr().typ, "error");
  EXPECT_EQ(bool_field(last_body(), "close"), false);
  router_.on_link_message(protocol::make_msg(kControl, "error", "s"));
  EXPECT_EQ(outbound_.sent.size(), 1u);  // a peer's error is logged, not answered
}

// ---- control close and error close:true reach the session-based handlers ----------

protocol::Bytes control_error_body(bool close) {
  protocol::ControlError error;
  error.err = "gone";
  error.close = close;
  return error.encode();
}

TEST_F(RouterTest, ControlCloseReachesSessionHandlersOnly) {
  RecordingHandler shell;
  RecordingHandler port_forward;
  RecordingHandler monitoring;
  ASSERT_TRUE(router_.add_handler(0x0001, shell, true).ok());
  ASSERT_TRUE(router_.add_handler(0x0003, port_forward, true).ok());
  ASSERT_TRUE(router_.add_handler(0x0010, monitoring, false).ok());
  router_.on_link_message(protocol::make_msg(kControl, "close", "s1"));
  EXPECT_EQ(shell.closed, std::vector<std::string>{"s1"});
  EXPECT_EQ(port_forward.closed, std::vector<std::string>{"s1"});
  EXPECT_TRUE(monitoring.closed.empty());
  EXPECT_TRUE(outbound_.sent.empty());  // a close is not answered
  // Handlers see the close, never the control message itself.
  EXPECT_TRUE(shell.messages.empty());
}

TEST_F(RouterTest, ControlErrorWithCloseTrueClosesTheSession) {
  RecordingHandler shell;
  ASSERT_TRUE(router_.add_handler(0x0001, shell, true).ok());
  router_.on_link_message(
      protocol::make_msg(kControl, "error", "s7", {}, control_error_body(true)));
  EXPECT_EQ(shell.closed, std::vector<std::string>{"s7"});
  EXPECT_TRUE(outbound_.sent.empty());  // a peer's error is not answered
}

TEST_F(RouterTest, ControlErrorWithoutCloseLeavesTheSessionAlone) {
  RecordingHandler shell;
  ASSERT_TRUE(router_.add_handler(0x0001, shell, true).ok());
  router_.on_link_message(
      protocol::make_msg(kControl, "error", "s7", {}, control_error_body(false)));
  // Garbage, an empty body and a body of the wrong type close nothing either.
  router_.on_link_message(protocol::make_msg(kControl, "error", "s7", {}, protocol::Bytes{0xc1}));
  router_.on_link_message(protocol::make_msg(kControl, "error", "s7"));
  router_.on_link_message(protocol::make_msg(kControl, "error", "s7", {},
                                             protocol::encode_value(protocol::Value("close"))));
  protocol::Map wrong{{"err", protocol::Value("x")}, {"close", protocol::Value("yes")}};
  router_.on_link_message(protocol::make_msg(kControl, "error", "s7", {},
                                             protocol::encode_value(protocol::Value(wrong))));
  EXPECT_TRUE(shell.closed.empty());
  EXPECT_TRUE(outbound_.sent.empty());
}

TEST_F(RouterTest, CloseWithoutASidClosesNothing) {
  RecordingHandler shell;
  ASSERT_TRUE(router_.add_handler(0x0001, shell, true).ok());
  router_.on_link_message(protocol::make_msg(kControl, "close", ""));
  router_.on_link_message(protocol::make_msg(kControl, "error", "", {}, control_error_body(true)));
  EXPECT_TRUE(shell.closed.empty());
}

TEST_F(RouterTest, CloseEndsAControlSessionAndTellsTheHandlers) {
  RecordingHandler shell;
  ASSERT_TRUE(router_.add_handler(0x0001, shell, true).ok());
  protocol::Map open{{"versions", protocol::Array{protocol::Value(1)}}};
  router_.on_link_message(protocol::make_msg(kControl, "open", "r1", {},
                                             protocol::encode_value(protocol::Value(open))));
  EXPECT_EQ(router_.open_control_sessions(), 1u);
  router_.on_link_message(
      protocol::make_msg(kControl, "error", "r1", {}, control_error_body(true)));
  EXPECT_EQ(router_.open_control_sessions(), 0u);
  EXPECT_EQ(shell.closed, std::vector<std::string>{"r1"});
}

}  // namespace
}  // namespace tether::daemon
