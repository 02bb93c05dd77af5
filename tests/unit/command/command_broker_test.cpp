// CommandBroker with the real durable store (a temporary directory), a fake app side
// and a fake link: every outcome of wire.md 5.4, exactly once, across reconnects and
// restarts.
#include "plugins/command/command_broker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec.hpp"
#include "tests/unit/store/store_harness.hpp"

namespace tether::plugins::command {
namespace {

namespace wire = protocol::command;
using daemon::store::test::StoreHarness;
using protocol::Map;
using protocol::Value;

struct Delivery {
  std::string holder, id, target, action;
  Map args;
};

class FakeApps final : public AppChannel {
 public:
  Status deliver(const std::string& holder, const std::string& id, const std::string& target,
                 const std::string& action, const Map& args) override {
    deliveries.push_back({holder, id, target, action, args});
    return Status::Ok();
  }
  void ended(const std::string& holder, const std::string& id, const std::string& status) override {
    endings.push_back(holder + " " + id + " " + status);
  }
  void targets_changed() override { ++changes; }

  std::vector<Delivery> deliveries;
  std::vector<std::string> endings;
  int changes = 0;
};

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("command-broker-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    daemon::store::DurableStore::Options options;
    options.directory = dir_;
    ASSERT_TRUE(harness_.open(options).ok());
    options_.timeout = std::chrono::seconds(20);
  }
  void TearDown() override {
    harness_.on_loop([this] {
      broker_.reset();
      return 0;
    });
    harness_.close();
    std::filesystem::remove_all(dir_);
  }

  void start(bool connected = true) {
    harness_.on_loop([this, connected] {
      broker_ = std::make_unique<CommandBroker>(
          harness_.loop(), harness_.store(), options_, [this](const protocol::ProtoMsg& msg) {
            if (!link_up_) return Status(Error(ErrorCode::kUnavailable, "offline"));
            sent_.push_back(msg);
            return Status::Ok();
          });
      broker_->set_app_channel(&apps_);
      link_up_ = connected;
      if (connected) broker_->on_connected();
      return 0;
    });
    wait_for([this] { return harness_.on_loop([this] { return broker_->loaded(); }); });
  }
  // The daemon killed: the broker goes without on_shutdown.
  void kill() {
    harness_.on_loop([this] {
      broker_.reset();
      return 0;
    });
  }
  void connect() {
    harness_.on_loop([this] {
      link_up_ = true;
      broker_->on_connected();
      return 0;
    });
  }
  void disconnect() {
    harness_.on_loop([this] {
      link_up_ = false;
      broker_->on_disconnected();
      return 0;
    });
  }

  template <typename Pred>
  void wait_for(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "condition not reached";
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  void send(const std::string& typ, const protocol::Bytes& body) {
    Status status = harness_.on_loop([&] {
      return broker_->on_message(protocol::make_msg(protocol::proto::kCommand, typ, {}, {}, body));
    });
    EXPECT_TRUE(status.ok()) << status.error().message();
  }
  void request(const std::string& id, const std::string& target, Map args = {},
               std::optional<std::uint64_t> timeout_s = std::nullopt) {
    wire::Request body{id, target, "toggle", std::move(args), timeout_s};
    send(wire::kRequest, body.encode());
  }
  void ack(const std::string& id) { send(wire::kAck, wire::Ack{id}.encode()); }

  Status register_target(const std::string& holder, const std::string& target) {
    return harness_.on_loop([&] { return broker_->register_target(holder, target); });
  }
  Status reply(const std::string& holder, const std::string& id, bool ok, Map ret = {},
               std::string err = {}, std::shared_ptr<std::optional<Status>> done = nullptr) {
    return harness_.on_loop([&] {
      return broker_->reply(holder, id, ok, ret, err, [done](Status stored) {
        if (done) *done = stored;
      });
    });
  }

  std::vector<wire::ResultBody> results() {
    return harness_.on_loop([this] {
      std::vector<wire::ResultBody> out;
      for (const auto& msg : sent_) {
        if (msg.hdr.typ != wire::kResult) continue;
        auto body = wire::ResultBody::decode(msg.body);
        EXPECT_TRUE(body.ok());
        if (body.ok()) out.push_back(*body);
      }
      return out;
    });
  }
  std::vector<std::vector<std::string>> targets_sent() {
    return harness_.on_loop([this] {
      std::vector<std::vector<std::string>> out;
      for (const auto& msg : sent_) {
        if (msg.hdr.typ != wire::kTargets) continue;
        auto body = wire::Targets::decode(msg.body);
        EXPECT_TRUE(body.ok());
        if (body.ok()) out.push_back(body->targets);
      }
      return out;
    });
  }
  std::size_t deliveries() {
    return harness_.on_loop([this] { return apps_.deliveries.size(); });
  }
  void clear_sent() {
    harness_.on_loop([this] {
      sent_.clear();
      return 0;
    });
  }

  StoreHarness harness_;
  std::filesystem::path dir_;
  BrokerOptions options_;
  FakeApps apps_;
  std::unique_ptr<CommandBroker> broker_;
  std::vector<protocol::ProtoMsg> sent_;
  bool link_up_ = false;
};

TEST_F(BrokerTest, OkResultWithRetAfterTheReplyIsStored) {
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  request("c1", "relay", Map{{"channel", 2}});
  wait_for([this] { return deliveries() == 1; });
  EXPECT_EQ(apps_.deliveries[0].holder, ":1.7");
  EXPECT_EQ(apps_.deliveries[0].action, "toggle");
  EXPECT_EQ(apps_.deliveries[0].args, (Map{{"channel", 2}}));
  auto done = std::make_shared<std::optional<Status>>();
  ASSERT_TRUE(reply(":1.7", "c1", true, Map{{"state", "on"}}, {}, done).ok());
  wait_for([&] { return harness_.on_loop([&] { return done->has_value(); }); });
  EXPECT_TRUE(done->value().ok());
  auto got = results();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].id, "c1");
  EXPECT_EQ(got[0].status, wire::kOk);
  EXPECT_EQ(got[0].ret, (Map{{"state", "on"}}));
  EXPECT_FALSE(got[0].err);
  EXPECT_GT(got[0].ts, 0);
  // A second Reply to a finished request is NotFound.
  Status again = reply(":1.7", "c1", true);
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
}

TEST_F(BrokerTest, ErrorReplyCarriesErr) {
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  request("c1", "relay");
  wait_for([this] { return deliveries() == 1; });
  ASSERT_TRUE(reply(":1.7", "c1", false, {}, "relay stuck").ok());
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].status, wire::kError);
  EXPECT_EQ(results()[0].err, std::optional<std::string>("relay stuck"));
}

TEST_F(BrokerTest, NoTargetWhenNobodyHoldsIt) {
  start();
  request("c1", "valve");
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].status, wire::kNoTarget);
  EXPECT_EQ(deliveries(), 0U);
}

TEST_F(BrokerTest, BusyBeyondMaxPending) {
  options_.max_pending = 2;
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  request("c1", "relay");
  request("c2", "relay");
  request("c3", "relay");
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].id, "c3");
  EXPECT_EQ(results()[0].status, wire::kBusy);
  wait_for([this] { return deliveries() == 2; });
  // Another target is not affected.
  ASSERT_TRUE(register_target(":1.8", "valve").ok());
  request("c4", "valve");
  wait_for([this] { return deliveries() == 3; });
}

TEST_F(BrokerTest, TimeoutFromRequestOrOption) {
  options_.timeout = std::chrono::milliseconds(50);
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  request("c1", "relay");
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].status, wire::kTimeout);
  EXPECT_EQ(harness_.on_loop([this] { return apps_.endings; }),
            std::vector<std::string>{":1.7 c1 timeout"});
  EXPECT_EQ(reply(":1.7", "c1", true).error().code(), ErrorCode::kNotFound);
  // timeout_s of the request wins over the option.
  request("c2", "relay", {}, 1);
  wait_for([this] { return deliveries() == 2; });
  auto start_time = std::chrono::steady_clock::now();
  wait_for([this] { return results().size() == 2; });
  EXPECT_GE(std::chrono::steady_clock::now() - start_time, std::chrono::milliseconds(500));
}

TEST_F(BrokerTest, InvalidEchoesTheIdWhenReadable) {
  start();
  send(wire::kRequest, {0xc1, 0x00});
  Map no_target{{"id", "c9"}, {"target", 5}, {"action", "x"}};
  send(wire::kRequest, protocol::encode_value(Value(no_target)));
  wait_for([this] { return results().size() == 2; });
  EXPECT_EQ(results()[0].status, wire::kInvalid);
  EXPECT_EQ(results()[0].id, "");
  EXPECT_EQ(results()[1].status, wire::kInvalid);
  EXPECT_EQ(results()[1].id, "c9");
  EXPECT_NE(results()[1].err->find("target"), std::string::npos);
  // The invalid id is remembered like any other: a repeat gets the same result.
  send(wire::kRequest, protocol::encode_value(Value(no_target)));
  wait_for([this] { return results().size() == 3; });
  EXPECT_EQ(results()[2], results()[1]);
  // Unknown typ is an error for the router to report.
  Status unknown = harness_.on_loop([this] {
    return broker_->on_message(protocol::make_msg(protocol::proto::kCommand, "bogus"));
  });
  EXPECT_FALSE(unknown.ok());
}

TEST_F(BrokerTest, SameIdTwiceExecutesOnce) {
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  request("c1", "relay");
  request("c1", "relay");
  wait_for([this] { return deliveries() == 1; });
  request("c1", "relay");
  ASSERT_TRUE(reply(":1.7", "c1", true).ok());
  wait_for([this] { return results().size() == 1; });
  request("c1", "relay");
  wait_for([this] { return results().size() == 2; });
  EXPECT_EQ(results()[0], results()[1]);
  EXPECT_EQ(deliveries(), 1U);
}

TEST_F(BrokerTest, ReplyOnlyFromTheHolder) {
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  EXPECT_EQ(register_target(":1.8", "relay").error().code(), ErrorCode::kBusy);
  EXPECT_TRUE(register_target(":1.7", "relay").ok());
  EXPECT_EQ(register_target(":1.8", "").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(register_target(":1.8", std::string(300, 'x')).error().code(),
            ErrorCode::kInvalidArgument);
  request("c1", "relay");
  wait_for([this] { return deliveries() == 1; });
  EXPECT_EQ(reply(":1.8", "c1", true).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(reply(":1.7", "nope", true).error().code(), ErrorCode::kNotFound);
  Status unregister =
      harness_.on_loop([this] { return broker_->unregister_target(":1.8", "relay"); });
  EXPECT_EQ(unregister.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(reply(":1.7", "c1", true).ok());
}

TEST_F(BrokerTest, HolderLeavingEndsItsRequestsAsNoTarget) {
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  ASSERT_TRUE(register_target(":1.7", "lamp").ok());
  ASSERT_TRUE(register_target(":1.8", "valve").ok());
  request("c1", "relay");
  wait_for([this] { return deliveries() == 1; });
  harness_.on_loop([this] {
    broker_->holder_left(":1.7");
    return 0;
  });
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].status, wire::kNoTarget);
  EXPECT_EQ(harness_.on_loop([this] { return broker_->targets(); }),
            std::vector<std::string>{"valve"});
  EXPECT_EQ(targets_sent().back(), std::vector<std::string>{"valve"});
  EXPECT_GE(harness_.on_loop([this] { return apps_.changes; }), 4);
}

TEST_F(BrokerTest, TargetsAfterEveryConnectAndOnChange) {
  start(false);
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  EXPECT_TRUE(targets_sent().empty());
  connect();
  EXPECT_EQ(targets_sent(), std::vector<std::vector<std::string>>{{"relay"}});
  ASSERT_TRUE(register_target(":1.8", "alpha").ok());
  EXPECT_EQ(targets_sent().back(), (std::vector<std::string>{"alpha", "relay"}));
  Status unregister =
      harness_.on_loop([this] { return broker_->unregister_target(":1.8", "alpha"); });
  EXPECT_TRUE(unregister.ok());
  EXPECT_EQ(targets_sent().back(), std::vector<std::string>{"relay"});
}

TEST_F(BrokerTest, ResultResentAfterReconnectUntilAcked) {
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  request("c1", "relay");
  wait_for([this] { return deliveries() == 1; });
  // The link drops after the app executed, before the result could go out.
  disconnect();
  ASSERT_TRUE(reply(":1.7", "c1", true, Map{{"n", 1}}).ok());
  wait_for([this] { return harness_.on_loop([this] { return broker_->pending_count(); }) == 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the commit land
  EXPECT_TRUE(results().empty());
  connect();
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].ret, (Map{{"n", 1}}));
  // No ack yet: sent again after the next connect.
  disconnect();
  connect();
  ASSERT_EQ(results().size(), 2U);
  EXPECT_EQ(results()[0], results()[1]);
  ack("c1");
  disconnect();
  clear_sent();
  connect();
  EXPECT_TRUE(results().empty());
  // A restart keeps the ack: nothing is sent again.
  kill();
  clear_sent();
  start();
  EXPECT_TRUE(results().empty());
  // But a repeat of the request still gets the stored result, not a new execution.
  request("c1", "relay");
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].ret, (Map{{"n", 1}}));
  EXPECT_EQ(deliveries(), 1U);
}

TEST_F(BrokerTest, PendingAtAKillEndsAsTimeoutAfterRestart) {
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  request("c1", "relay");
  request("c2", "relay");
  wait_for([this] { return deliveries() == 2; });
  kill();
  clear_sent();
  start(false);
  connect();
  wait_for([this] { return results().size() == 2; });
  for (const auto& result : results()) EXPECT_EQ(result.status, wire::kTimeout);
  // The ids are still known: repeats are not delivered again.
  ASSERT_TRUE(register_target(":1.9", "relay").ok());
  request("c1", "relay");
  wait_for([this] { return results().size() == 3; });
  EXPECT_EQ(deliveries(), 2U);
}

TEST_F(BrokerTest, PendingAtAStopEndsAsTimeout) {
  start();
  ASSERT_TRUE(register_target(":1.7", "relay").ok());
  request("c1", "relay");
  wait_for([this] { return deliveries() == 1; });
  harness_.on_loop([this] {
    broker_->on_shutdown();
    return 0;
  });
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].status, wire::kTimeout);
  // Requests arriving during the stop are answered at once.
  request("c2", "relay");
  wait_for([this] { return results().size() == 2; });
  EXPECT_EQ(results()[1].status, wire::kTimeout);
}

TEST_F(BrokerTest, RemembersABoundedNumberOfAckedIds) {
  options_.remembered_ids = 3;
  start();
  for (int i = 0; i < 8; ++i) {
    request("c" + std::to_string(i), "none");
  }
  wait_for([this] { return results().size() == 8; });
  for (int i = 0; i < 8; ++i) ack("c" + std::to_string(i));
  EXPECT_EQ(harness_.on_loop([this] { return broker_->remembered_count(); }), 3U);
  // The newest are kept, across a restart too.
  kill();
  clear_sent();
  start();
  EXPECT_EQ(harness_.on_loop([this] { return broker_->remembered_count(); }), 3U);
  request("c7", "none");
  wait_for([this] { return results().size() == 1; });
  EXPECT_EQ(results()[0].id, "c7");
  EXPECT_EQ(harness_.on_loop([this] { return broker_->remembered_count(); }), 3U);
}

}  // namespace
}  // namespace tether::plugins::command
