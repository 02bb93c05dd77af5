#include "daemon/transport/backoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace tether::daemon::transport {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, EveryWaitIsWithinFloorAndCapAndTheCeilingGrows) {
  Backoff backoff({milliseconds(1000), milliseconds(300'000), milliseconds(100)}, 42);
  for (int i = 0; i < 200; ++i) {
    const auto ceiling = backoff.current_ceiling();
    const auto wait = backoff.next_delay();
    EXPECT_GE(wait, milliseconds(100));
    EXPECT_LE(wait, std::max(ceiling, milliseconds(100)));
    EXPECT_LE(wait, milliseconds(300'000));
  }
  EXPECT_EQ(backoff.current_ceiling(), milliseconds(300'000));
}

TEST(BackoffTest, CeilingDoublesFromTheBase) {
  Backoff backoff({milliseconds(1000), milliseconds(60'000), milliseconds(100)}, 1);
  std::vector<long> ceilings;
  for (int i = 0; i < 8; ++i) {
    ceilings.push_back(static_cast<long>(backoff.current_ceiling().count()));
    (void)backoff.next_delay();
  }
  EXPECT_EQ(ceilings, (std::vector<long>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000}));
}

TEST(BackoffTest, FullJitterSpreadsTheWaits) {
  Backoff backoff({milliseconds(1000), milliseconds(10'000), milliseconds(100)}, 7);
  for (int i = 0; i < 10; ++i) (void)backoff.next_delay();  // ceiling at the cap
  std::set<long> seen;
  long low = 1'000'000;
  long high = 0;
  for (int i = 0; i < 500; ++i) {
    const long w = static_cast<long>(backoff.next_delay().count());
    seen.insert(w);
    low = std::min(low, w);
    high = std::max(high, w);
  }
  EXPECT_GT(seen.size(), 200u);
  EXPECT_LT(low, 2000);  // the whole range is drawn, not just the top
  EXPECT_GT(high, 8000);
}

TEST(BackoffTest, ResetStartsOverAndNeverSpins) {
  Backoff backoff({milliseconds(1000), milliseconds(300'000), milliseconds(100)}, 3);
  for (int i = 0; i < 20; ++i) (void)backoff.next_delay();
  EXPECT_EQ(backoff.failures(), 20u);
  backoff.reset();
  EXPECT_EQ(backoff.failures(), 0u);
  EXPECT_EQ(backoff.current_ceiling(), milliseconds(1000));
  for (int i = 0; i < 100; ++i) {
    backoff.reset();
    EXPECT_GE(backoff.next_delay(), milliseconds(100));
  }
}

TEST(BackoffTest, ATinyCapBoundsTheFloorToo) {
  Backoff backoff({milliseconds(1000), milliseconds(20), milliseconds(100)}, 9);
  for (int i = 0; i < 50; ++i) {
    const auto w = backoff.next_delay();
    EXPECT_EQ(w, milliseconds(20));
  }
}

}  // namespace
}  // namespace tether::daemon::transport
