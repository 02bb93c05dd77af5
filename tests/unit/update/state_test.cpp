// The transition table and the stored record.
#include <gtest/gtest.h>

#include "plugins/update/update_record.hpp"
#include "plugins/update/update_state.hpp"

namespace tether::plugins::update {
namespace {

using S = UpdateState;
using E = UpdateEvent;

TEST(UpdateStateTest, GoodPathWithAndWithoutConsent) {
  EXPECT_EQ(next_state(S::kIdle, E::kOffer), S::kDownloading);
  EXPECT_EQ(next_state(S::kDownloading, E::kDownloaded), S::kVerifying);
  EXPECT_EQ(next_state(S::kVerifying, E::kVerified), S::kInstalling);
  EXPECT_EQ(next_state(S::kVerifying, E::kNeedsConsent), S::kAwaitingConsent);
  EXPECT_EQ(next_state(S::kAwaitingConsent, E::kAccepted), S::kInstalling);
  EXPECT_EQ(next_state(S::kAwaitingConsent, E::kDeclined), S::kRejected);
  EXPECT_EQ(next_state(S::kInstalling, E::kInstalled), S::kSuccess);
  EXPECT_EQ(next_state(S::kSuccess, E::kAcknowledged), S::kIdle);
}

TEST(UpdateStateTest, CancelBeforeInstallingOnly) {
  for (S s : {S::kDownloading, S::kVerifying, S::kAwaitingConsent}) {
    EXPECT_EQ(next_state(s, E::kCancel), S::kCancelled) << state_name(s);
  }
  for (S s : {S::kIdle, S::kInstalling, S::kSuccess, S::kFailure, S::kRejected, S::kCancelled}) {
    EXPECT_FALSE(next_state(s, E::kCancel)) << state_name(s);
  }
}

TEST(UpdateStateTest, BusyStatesRefuseAnOffer) {
  for (S s : {S::kDownloading, S::kVerifying, S::kAwaitingConsent, S::kInstalling}) {
    EXPECT_FALSE(next_state(s, E::kOffer)) << state_name(s);
    EXPECT_FALSE(next_state(s, E::kAcknowledged)) << state_name(s);
    EXPECT_FALSE(is_final(s));
  }
  for (S s : {S::kSuccess, S::kFailure, S::kRejected, S::kCancelled}) {
    EXPECT_EQ(next_state(s, E::kOffer), S::kDownloading);
    EXPECT_TRUE(is_final(s));
  }
}

TEST(UpdateStateTest, ConsentOnlyWhileAwaiting) {
  for (S s : {S::kIdle, S::kDownloading, S::kVerifying, S::kInstalling, S::kSuccess}) {
    EXPECT_FALSE(next_state(s, E::kAccepted));
    EXPECT_FALSE(next_state(s, E::kDeclined));
  }
}

TEST(UpdateStateTest, NamesRoundTrip) {
  for (S s : {S::kIdle, S::kDownloading, S::kVerifying, S::kAwaitingConsent, S::kInstalling,
              S::kSuccess, S::kFailure, S::kRejected, S::kCancelled}) {
    EXPECT_EQ(state_from_name(state_name(s)), s);
  }
  EXPECT_EQ(state_name(S::kAwaitingConsent), "awaiting-consent");
  EXPECT_FALSE(state_from_name("bogus"));
}

TEST(UpdateRecordTest, RoundTrip) {
  UpdateRecord r;
  r.offer = {"u1", "2.0", "https://x/a", 10, std::string(64, 'a'), protocol::Bytes{1, 2}, true};
  r.state = S::kInstalling;
  r.percent = 100;
  r.message = "hello";
  r.installer_started = true;
  auto back = UpdateRecord::decode(r.encode());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->offer, r.offer);
  EXPECT_EQ(back->state, S::kInstalling);
  EXPECT_EQ(back->percent, 100U);
  EXPECT_EQ(back->message, "hello");
  EXPECT_TRUE(back->installer_started);
  EXPECT_EQ(back->progress().state, "installing");
}

TEST(UpdateRecordTest, GarbageAndTruncationAreErrors) {
  UpdateRecord r;
  r.offer = {"u1", "2.0", "https://x/a", 10, std::string(64, 'a'), std::nullopt, std::nullopt};
  r.state = S::kDownloading;
  protocol::Bytes bytes = r.encode();
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(UpdateRecord::decode(std::span(bytes).first(cut))) << cut;
  }
  EXPECT_FALSE(UpdateRecord::decode(protocol::Bytes{0xc1, 0x00}));
  EXPECT_FALSE(UpdateRecord::decode(protocol::Bytes{0x80}));  // empty map
}

}  // namespace
}  // namespace tether::plugins::update
