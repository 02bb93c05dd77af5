// MessageAssembler: the one reassembly of WebSocket messages (tetherd's link and
// tether-hub's sockets), driven with the frame flags lws would report.
#include "daemon/transport/message_assembler.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tether::daemon::transport {
namespace {

using Outcome = MessageAssembler::Outcome;

std::vector<std::uint8_t> bytes(std::initializer_list<std::uint8_t> b) {
  return b;
}

TEST(MessageAssembler, OnePieceIsOneMessage) {
  MessageAssembler a;
  const auto piece = bytes({1, 2, 3});
  EXPECT_EQ(a.add(piece, {}, 10), Outcome::kComplete);
  EXPECT_EQ(a.take(), piece);
  EXPECT_EQ(a.buffered(), 0u);
}

TEST(MessageAssembler, FragmentsAndChunksJoin) {
  MessageAssembler a;
  const auto p1 = bytes({1, 2});
  const auto p2 = bytes({3});
  const auto p3 = bytes({4, 5});
  // first fragment, split into two chunks (2 bytes of the frame still to come)
  EXPECT_EQ(a.add(p1, {true, true, false, 1}, 10), Outcome::kIncomplete);
  EXPECT_EQ(a.add(p2, {false, true, false, 0}, 10), Outcome::kIncomplete);
  // final fragment; continuation frames carry no binary flag
  EXPECT_EQ(a.add(p3, {false, false, true, 0}, 10), Outcome::kComplete);
  EXPECT_EQ(a.take(), bytes({1, 2, 3, 4, 5}));
}

TEST(MessageAssembler, FinalFragmentWithPayloadStillToComeIsIncomplete) {
  MessageAssembler a;
  const auto p = bytes({1});
  EXPECT_EQ(a.add(p, {true, true, true, 3}, 10), Outcome::kIncomplete);
  EXPECT_EQ(a.add(bytes({2, 3, 4}), {false, true, true, 0}, 10), Outcome::kComplete);
  EXPECT_EQ(a.take().size(), 4u);
}

TEST(MessageAssembler, TextIsRefused) {
  MessageAssembler a;
  EXPECT_EQ(a.add(bytes({'h', 'i'}), {true, false, true, 0}, 10), Outcome::kNotBinary);
  EXPECT_EQ(a.buffered(), 0u);
}

TEST(MessageAssembler, OversizeIsRefusedBeforeBuffering) {
  MessageAssembler a;
  // exactly at the limit is fine
  EXPECT_EQ(a.add(bytes({1, 2, 3, 4}), {}, 4), Outcome::kComplete);
  (void)a.take();
  // the rest of the frame counts: refused at the first chunk
  EXPECT_EQ(a.add(bytes({1}), {true, true, true, 4}, 4), Outcome::kTooBig);
  EXPECT_EQ(a.buffered(), 0u);
  // across fragments
  EXPECT_EQ(a.add(bytes({1, 2, 3}), {true, true, false, 0}, 4), Outcome::kIncomplete);
  EXPECT_EQ(a.add(bytes({4, 5}), {false, false, true, 0}, 4), Outcome::kTooBig);
  EXPECT_EQ(a.buffered(), 0u);
}

TEST(MessageAssembler, AFirstFragmentDropsAPartialMessage) {
  MessageAssembler a;
  EXPECT_EQ(a.add(bytes({9, 9}), {true, true, false, 0}, 10), Outcome::kIncomplete);
  EXPECT_EQ(a.add(bytes({1}), {true, true, true, 0}, 10), Outcome::kComplete);
  EXPECT_EQ(a.take(), bytes({1}));
}

TEST(MessageAssembler, ResetDropsAPartialMessage) {
  MessageAssembler a;
  EXPECT_EQ(a.add(bytes({9, 9}), {true, true, false, 0}, 10), Outcome::kIncomplete);
  a.reset();
  EXPECT_EQ(a.buffered(), 0u);
  EXPECT_EQ(a.add(bytes({}), {true, true, true, 0}, 10), Outcome::kComplete);
  EXPECT_TRUE(a.take().empty());
}

}  // namespace
}  // namespace tether::daemon::transport
