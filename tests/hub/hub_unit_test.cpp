// Unit tests of the hub's pure parts: credentials, JSON, the SQLite registry and
// the relay's routing rules (with fake links instead of sockets).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "hub/auth.hpp"
#include "hub/json.hpp"
#include "hub/relay.hpp"
#include "hub/store.hpp"
#include "protocol/codec.hpp"
#include "protocol/message.hpp"

namespace tether::hub {
namespace {

using protocol::ProtoMsg;
namespace proto = protocol::proto;

TEST(Auth, Sha256OfAKnownString) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Auth, PasswordHashVerifies) {
  auto hash = hash_password("correct horse", 1000);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("pbkdf2-sha256$1000$", 0), 0u);
  EXPECT_TRUE(*verify_password("correct horse", *hash));
  EXPECT_FALSE(*verify_password("correct horsE", *hash));
  EXPECT_FALSE(verify_password("x", "plain-text").ok());
  EXPECT_FALSE(verify_password("x", "pbkdf2-sha256$10$00$00").ok());
}

TEST(Auth, SessionsExpireAndAreBounded) {
  OperatorSessions s(std::chrono::seconds(60), 2);
  const auto t0 = OperatorSessions::Clock::now();
  auto a = s.create("a", t0);
  auto b = s.create("b", t0 + std::chrono::seconds(1));
  auto c = s.create("c", t0 + std::chrono::seconds(2));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(s.size(), 2u);
  EXPECT_FALSE(s.user_of(*a, t0 + std::chrono::seconds(3)));  // evicted, oldest
  EXPECT_EQ(s.user_of(*b, t0 + std::chrono::seconds(3)), "b");
  EXPECT_FALSE(s.user_of(*b, t0 + std::chrono::seconds(100)));  // expired
  EXPECT_EQ(a->size(), 64u);
}

TEST(Json, QuotesAndParses) {
  EXPECT_EQ(json::quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\u000a\\u0001\"");
  EXPECT_EQ(json::quote("\xff"), "\"\\ufffd\"");
  auto m = json::parse_flat_object(R"( {"username":"admin","password":"p\u00e4ss\"w"} )");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("password"), "p\xc3\xa4ss\"w");
  for (const char* bad : {"", "{", "[]", "{\"a\":1}", "{\"a\":\"b\"} x",
                          "{\"a\":\"b\",\"a\":\"c\"}", "{\"a\":\"\\ud800\"}"}) {
    EXPECT_FALSE(json::parse_flat_object(bad).ok()) << bad;
  }
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tether-hub-unit-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Store, RegistersLooksUpAndRecordsStatus) {
  TempDir dir;
  auto store = Store::open(dir.path() + "/state");
  ASSERT_TRUE(store.ok()) << store.error().message();
  Store& s = **store;
  ASSERT_TRUE(s.put_device("gw1", sha256_hex("tok1"), 1000).ok());
  EXPECT_EQ(**s.device_for_token(sha256_hex("tok1")), "gw1");
  EXPECT_FALSE(s.device_for_token(sha256_hex("nope"))->has_value());
  // re-provisioning replaces the token
  ASSERT_TRUE(s.put_device("gw1", sha256_hex("tok2"), 2000).ok());
  EXPECT_FALSE(s.device_for_token(sha256_hex("tok1"))->has_value());
  // a token can belong to one device only
  EXPECT_FALSE(s.put_device("gw2", sha256_hex("tok2"), 2000).ok());
  ASSERT_TRUE(s.record_status("gw1", {"1.0", "online", "boot", 5}, 3000).ok());
  auto rec = s.get("gw1");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->version, "1.0");
  EXPECT_EQ((*rec)->uptime_s, 5);
  EXPECT_EQ((*rec)->last_seen_ms, 3000);
  EXPECT_EQ((*rec)->created_ms, 1000);
  EXPECT_EQ(s.list()->size(), 1u);
}

TEST(Store, ValidDeviceIds) {
  EXPECT_TRUE(valid_device_id("gw-01.site_a:x"));
  EXPECT_FALSE(valid_device_id(""));
  EXPECT_FALSE(valid_device_id("a/b"));
  EXPECT_FALSE(valid_device_id("../x"));
  EXPECT_FALSE(valid_device_id(std::string(129, 'a')));
}

class FakeLink : public Link {
 public:
  void send(protocol::Bytes encoded, bool) override {
    auto m = protocol::decode(encoded);
    ASSERT_TRUE(m.ok());
    sent.push_back(*m);
  }
  void close(std::uint16_t code, std::string) override { closed = code; }
  std::size_t queued_bytes() const override { return queued; }
  void set_receiving(bool on) override { receiving = on; }

  std::vector<ProtoMsg> take() { return std::exchange(sent, {}); }

  std::vector<ProtoMsg> sent;
  int closed = 0;
  std::size_t queued = 0;
  bool receiving = true;
};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir.path());
    ASSERT_TRUE(s.ok());
    store = std::move(*s);
    ASSERT_TRUE(store->put_device("gw", sha256_hex("t"), 1).ok());
    relay = std::make_unique<Relay>(*store, limits, log);
    relay->device_connected(1, "gw", dev);
  }
  void from_op(ConnId id, const ProtoMsg& m) { relay->operator_message(id, protocol::encode(m)); }
  void from_dev(const ProtoMsg& m) { relay->device_message(1, protocol::encode(m)); }

  TempDir dir;
  Limits limits;
  Logger log{LogLevel::kError};
  std::unique_ptr<Store> store;
  std::unique_ptr<Relay> relay;
  FakeLink dev, op1, op2;
};

TEST_F(RelayTest, SlowOperatorPausesTheDeviceUntilItDrains) {
  relay->operator_connected(10, "gw", "alice", op1);
  from_op(10, protocol::make_msg(proto::kShell, "new", "s"));
  op1.queued = limits.queue_high_water + 1;
  from_dev(protocol::make_msg(proto::kShell, "shell", "s", {{"status", 1}}, {'x'}));
  EXPECT_FALSE(dev.receiving);
  op1.queued = 0;
  relay->operator_wrote(10);
  EXPECT_TRUE(dev.receiving);
}

TEST_F(RelayTest, OperatorGoneStopsItsShellsOnly) {
  relay->operator_connected(10, "gw", "alice", op1);
  relay->operator_connected(11, "gw", "bob", op2);
  from_op(10, protocol::make_msg(proto::kShell, "new", "a"));
  from_op(11, protocol::make_msg(proto::kShell, "new", "b"));
  dev.take();
  relay->operator_closed(10);
  auto sent = dev.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.typ, "stop");
  EXPECT_EQ(sent[0].hdr.sid, "a");
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "alice");
  EXPECT_EQ(op2.closed, 0);
}

TEST_F(RelayTest, DeviceGoneTellsAndClosesOperators) {
  relay->operator_connected(10, "gw", "alice", op1);
  from_op(10, protocol::make_msg(proto::kShell, "new", "a"));
  relay->device_closed(1);
  auto sent = op1.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].hdr.typ, "stop");
  EXPECT_EQ(sent[0].hdr.prop_int("status"), 2);
  EXPECT_EQ(sent[1].hdr.proto, proto::kControl);
  EXPECT_EQ(sent[1].hdr.typ, "error");
  EXPECT_EQ(op1.closed, close_code::kGoingAway);
  EXPECT_FALSE(relay->online("gw"));
  relay->operator_closed(10);  // later close callback: harmless
}

}  // namespace
}  // namespace tether::hub
