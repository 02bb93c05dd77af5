#include "daemon/transport/outbound_queue.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <functional>

namespace tether::daemon::transport {
namespace {

class OutboundQueueTest : public ::testing::Test {
 protected:
  OutboundQueue make(OutboundQueue::Limits limits = {}) {
    return OutboundQueue(
        limits, [this](std::function<void()> fn) { scheduled_.push_back(std::move(fn)); },
        [this] { ++wakes_; });
  }
  void run_scheduled() {
    while (!scheduled_.empty()) {
      auto fn = std::move(scheduled_.front());
      scheduled_.pop_front();
      fn();
    }
  }
  static protocol::ProtoMsg msg(const std::string& typ, std::size_t body = 0) {
    return protocol::make_msg(protocol::proto::kShell, typ, "s", {}, protocol::Bytes(body, 0x61));
  }
  static std::string typ_of(const protocol::Bytes& bytes) {
    auto decoded = protocol::decode(bytes);
    return decoded ? decoded->hdr.typ : "?";
  }

  std::deque<std::function<void()>> scheduled_;
  int wakes_ = 0;
};

TEST_F(OutboundQueueTest, RefusesWhileDisconnected) {
  auto q = make();
  EXPECT_FALSE(q.send(msg("a")).ok());
  EXPECT_EQ(q.send(msg("a")).error().code(), ErrorCode::kUnavailable);
  q.set_connected(true);
  EXPECT_TRUE(q.send(msg("a")).ok());
  EXPECT_EQ(wakes_, 1);
}

TEST_F(OutboundQueueTest, ControlGoesBeforeBulkAndEachClassKeepsItsOrder) {
  auto q = make();
  q.set_connected(true);
  ASSERT_TRUE(q.send(msg("bulk1")).ok());
  ASSERT_TRUE(q.send(msg("bulk2")).ok());
  ASSERT_TRUE(q.send(msg("ctl1"), Priority::kControl).ok());
  ASSERT_TRUE(q.send(msg("ctl2"), Priority::kControl).ok());
  std::vector<std::string> order;
  while (auto next = q.pop()) order.push_back(typ_of(*next));
  EXPECT_EQ(order, (std::vector<std::string>{"ctl1", "ctl2", "bulk1", "bulk2"}));
  EXPECT_TRUE(q.empty());
}

TEST_F(OutboundQueueTest, CountsBytesPerFlowAndInTotal) {
  auto q = make();
  q.set_connected(true);
  ASSERT_TRUE(q.send(msg("a", 100), Priority::kBulk, "shell/1").ok());
  ASSERT_TRUE(q.send(msg("b", 200), Priority::kBulk, "shell/2").ok());
  ASSERT_TRUE(q.send(msg("c", 50)).ok());
  const auto one = q.queued_bytes("shell/1");
  const auto two = q.queued_bytes("shell/2");
  EXPECT_GT(one, 100u);
  EXPECT_GT(two, 200u);
  EXPECT_GT(q.total_queued_bytes(), one + two);
  (void)q.pop();
  EXPECT_EQ(q.queued_bytes("shell/1"), 0u);
  EXPECT_EQ(q.queued_bytes("shell/2"), two);
}

TEST_F(OutboundQueueTest, HardCapRefusesBulkButLeavesRoomForControl) {
  auto q = make({.hard_cap = 1000, .control_reserve = 500});
  q.set_connected(true);
  ASSERT_TRUE(q.send(msg("a", 900)).ok());
  EXPECT_FALSE(q.send(msg("b", 200)).ok());
  EXPECT_EQ(q.send(msg("b", 200)).error().code(), ErrorCode::kBusy);
  EXPECT_TRUE(q.send(msg("pong", 100), Priority::kControl).ok());
  EXPECT_FALSE(q.send(msg("big", 600), Priority::kControl).ok());
}

TEST_F(OutboundQueueTest, WhenDrainedFiresOnceBelowBothLowWaters) {
  auto q = make();
  q.set_connected(true);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.send(msg("x", 1000), Priority::kBulk, "f").ok());
  int calls = 0;
  q.when_drained("f", 1100, 100000, [&] { ++calls; });
  (void)q.pop();
  (void)q.pop();
  run_scheduled();
  EXPECT_EQ(calls, 0);
  (void)q.pop();  // one message (~1030 bytes) left
  run_scheduled();
  EXPECT_EQ(calls, 1);
  (void)q.pop();
  run_scheduled();
  EXPECT_EQ(calls, 1);
}

TEST_F(OutboundQueueTest, WhenDrainedAlreadyTrueIsPostedNotCalledInline) {
  auto q = make();
  q.set_connected(true);
  int calls = 0;
  q.when_drained("f", 0, 0, [&] { ++calls; });
  EXPECT_EQ(calls, 0);
  run_scheduled();
  EXPECT_EQ(calls, 1);
}

TEST_F(OutboundQueueTest, WaitersAreReplacedCancelledAndDroppedOnDisconnect) {
  auto q = make();
  q.set_connected(true);
  ASSERT_TRUE(q.send(msg("x", 1000), Priority::kBulk, "f").ok());
  int first = 0;
  int second = 0;
  q.when_drained("f", 0, 0, [&] { ++first; });
  q.when_drained("f", 0, 0, [&] { ++second; });
  (void)q.pop();
  run_scheduled();
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);

  ASSERT_TRUE(q.send(msg("x", 1000), Priority::kBulk, "g").ok());
  q.when_drained("g", 0, 0, [&] { ++first; });
  q.cancel_drained("g");
  (void)q.pop();
  run_scheduled();
  EXPECT_EQ(first, 0);

  ASSERT_TRUE(q.send(msg("x", 1000), Priority::kBulk, "h").ok());
  q.when_drained("h", 0, 0, [&] { ++first; });
  q.set_connected(false);
  EXPECT_EQ(q.total_queued_bytes(), 0u);
  EXPECT_EQ(q.queued_bytes("h"), 0u);
  EXPECT_FALSE(q.pop().has_value());
  run_scheduled();
  EXPECT_EQ(first, 0);
}

}  // namespace
}  // namespace tether::daemon::transport
