// The writer thread every hub store runs (hub/store/batch_writer.hpp): batching,
// completions after the write, flush, a queue that refuses, the periodic tick, and
// a stop that writes what is still queued; and the loop inbox their completions
// go through.
#include "hub/store/batch_writer.hpp"

#include "hub/loop_inbox.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tether::hub {
namespace {

using Batch = std::deque<int>;

// A write hook that can be held, to let changes pile up behind a batch in flight.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = true;
  bool entered = false;
  void wait() {
    std::unique_lock lock(mutex);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [this] { return open; });
  }
  void close() {
    std::lock_guard lock(mutex);
    open = false;
    entered = false;
  }
  void release() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
  void await_entered() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return entered; });
  }
};

TEST(BatchWriter, ChangesQueuedDuringAWriteCommitTogetherAndCompleteAfterIt) {
  Gate gate;
  std::vector<std::vector<int>> written;
  std::vector<int> completed;
  BatchWriter<Batch> writer({.write =
                                 [&](Batch& batch) {
                                   gate.wait();
                                   written.emplace_back(batch.begin(), batch.end());
                                   return Status::Ok();
                                 },
                             .complete =
                                 [&](Batch& batch, const Status& status) {
                                   EXPECT_TRUE(status.ok());
                                   // Completions run after the batch is written.
                                   EXPECT_EQ(written.back().size(), batch.size());
                                   completed.insert(completed.end(), batch.begin(), batch.end());
                                 }});
  gate.close();
  writer.queue([](Batch& b) { b.push_back(1); });
  gate.await_entered();
  // The writer holds batch {1}; these three wait and go as one batch.
  for (int i = 2; i <= 4; ++i) writer.queue([i](Batch& b) { b.push_back(i); });
  const std::size_t queued = writer.inspect([](const Batch& q, const Batch& f) {
    EXPECT_EQ(f, Batch{1});
    return q.size();
  });
  EXPECT_EQ(queued, 3U);
  gate.release();
  ASSERT_TRUE(writer.flush().ok());
  ASSERT_EQ(written.size(), 2U);
  EXPECT_EQ(written[1], (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(completed, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(writer.batches_written(), 2U);
}

TEST(BatchWriter, FlushReportsTheFirstFailureOnce) {
  int calls = 0;
  BatchWriter<Batch> writer({.write = [&](Batch&) -> Status {
    ++calls;
    return Error(ErrorCode::kStorageFailure, "disk full");
  }});
  writer.queue([](Batch& b) { b.push_back(1); });
  const Status first = writer.flush();
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().message().find("disk full"), std::string::npos);
  EXPECT_TRUE(writer.flush().ok());
  EXPECT_EQ(calls, 1);
}

TEST(BatchWriter, ARefusedChangeIsNotWaitedFor) {
  std::atomic<int> writes{0};
  BatchWriter<Batch> writer({.write = [&](Batch&) {
    ++writes;
    return Status::Ok();
  }});
  EXPECT_FALSE(writer.queue([](Batch&) { return false; }));
  // Would hang if the refused change counted as queued.
  EXPECT_TRUE(writer.flush().ok());
  EXPECT_EQ(writes.load(), 0);
  EXPECT_TRUE(writer.queue([](Batch& b) {
    b.push_back(7);
    return true;
  }));
  EXPECT_TRUE(writer.flush().ok());
  EXPECT_EQ(writes.load(), 1);
}

TEST(BatchWriter, TicksAddPeriodicWork) {
  std::mutex mutex;
  std::condition_variable cv;
  int ticks_written = 0;
  BatchWriter<Batch> writer({.write =
                                 [&](Batch& batch) {
                                   std::lock_guard lock(mutex);
                                   for (int v : batch) ticks_written += v == -1 ? 1 : 0;
                                   cv.notify_all();
                                   return Status::Ok();
                                 },
                             .tick_interval = std::chrono::milliseconds(5),
                             .on_tick = [](Batch& b) { b.push_back(-1); }});
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return ticks_written >= 3; }));
}

TEST(BatchWriter, StopWritesWhatIsStillQueued) {
  Gate gate;
  std::vector<int> written;
  {
    BatchWriter<Batch> writer({.write = [&](Batch& batch) {
      gate.wait();
      written.insert(written.end(), batch.begin(), batch.end());
      return Status::Ok();
    }});
    gate.close();
    writer.queue([](Batch& b) { b.push_back(1); });
    gate.await_entered();
    writer.queue([](Batch& b) { b.push_back(2); });
    gate.release();
    writer.stop();
    writer.stop();  // idempotent
  }
  EXPECT_EQ(written, (std::vector<int>{1, 2}));
}

// min_gap: a batch begins at least min_gap after the one before it began, so what
// is queued meanwhile goes as one batch.
TEST(BatchWriter, ChangesWithinMinGapOfTheLastBatchWaitAndGoTogether) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kGap = std::chrono::milliseconds(400);
  std::mutex mutex;
  std::vector<std::pair<Clock::time_point, std::vector<int>>> written;
  BatchWriter<Batch> writer({.write =
                                 [&](Batch& batch) {
                                   std::lock_guard lock(mutex);
                                   written.emplace_back(
                                       Clock::now(), std::vector<int>(batch.begin(), batch.end()));
                                   return Status::Ok();
                                 },
                             .min_gap = kGap});
  writer.queue([](Batch& b) { b.push_back(1); });
  ASSERT_TRUE(writer.flush().ok());  // the first batch does not wait
  for (int i = 2; i <= 4; ++i) writer.queue([i](Batch& b) { b.push_back(i); });
  // Without the gap, 2 would have gone alone as soon as it was queued.
  for (auto deadline = Clock::now() + std::chrono::seconds(20); Clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::lock_guard lock(mutex);
    if (written.size() >= 2) break;
  }
  std::lock_guard lock(mutex);
  ASSERT_EQ(written.size(), 2U);
  EXPECT_EQ(written[1].second, (std::vector<int>{2, 3, 4}));
  // Stamped inside the writes, a little after each batch began: without the gap
  // the second would have begun within milliseconds of the first.
  EXPECT_GE(written[1].first - written[0].first, kGap / 2);
}

TEST(BatchWriter, AFlushOrAStopDoesNotWaitOutTheMinGap) {
  std::vector<int> written;
  {
    BatchWriter<Batch> writer({.write =
                                   [&](Batch& batch) {
                                     written.insert(written.end(), batch.begin(), batch.end());
                                     return Status::Ok();
                                   },
                               .min_gap = std::chrono::hours(1)});
    writer.queue([](Batch& b) { b.push_back(1); });
    ASSERT_TRUE(writer.flush().ok());
    writer.queue([](Batch& b) { b.push_back(2); });
    // Each would hang for an hour (the test's timeout) if it waited for the gap.
    ASSERT_TRUE(writer.flush().ok());
    EXPECT_EQ(written, (std::vector<int>{1, 2}));
    writer.queue([](Batch& b) { b.push_back(3); });
    writer.stop();
  }
  EXPECT_EQ(written, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace tether::hub

// The loop's side of the completions: LoopInbox runs them in order, a bounded share
// per pass, and wakes the loop once per burst.

namespace tether::hub {
namespace {

// The writer yields to the loop: it runs kNiceBelowCreator nice levels below the
// thread that made it (never past 19), and the creator's own priority is untouched.
TEST(BatchWriter, RunsBelowTheThreadThatMadeIt) {
  const int mine = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  std::atomic<int> writers{-100};
  BatchWriter<Batch>::Hooks hooks;
  hooks.write = [&](Batch&) {
    writers = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    return Status::Ok();
  };
  BatchWriter<Batch> writer(std::move(hooks));
  writer.queue([](Batch& b) { b.push_back(1); });
  ASSERT_TRUE(writer.flush().ok());
  EXPECT_EQ(writers.load(), std::min(19, mine + BatchWriter<Batch>::kNiceBelowCreator));
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), mine);
}

TEST(LoopInbox, RunsABoundedShareInOrderAndWakesOncePerBurst) {
  LoopInbox inbox;
  int wakes = 0;
  inbox.set_wake([&wakes] { ++wakes; });
  std::vector<int> ran;
  for (int i = 0; i < 10; ++i) inbox.post([&ran, i] { ran.push_back(i); });
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(inbox.run_pending(4), 4U);
  EXPECT_TRUE(inbox.has_pending());
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(inbox.run_pending(), 6U);
  EXPECT_FALSE(inbox.has_pending());
  EXPECT_EQ(ran.size(), 10U);
  EXPECT_EQ(ran.back(), 9);
  inbox.post([] {});
  EXPECT_EQ(wakes, 2);
  inbox.set_wake({});
  EXPECT_EQ(inbox.run_pending(), 1U);
}

// Urgent tasks (a session's messages from another instance) have their own wake,
// once per burst, and run ahead of the ordinary ones, in their own order, within
// the same bounds.
TEST(LoopInbox, UrgentTasksHaveTheirOwnWakeAndRunFirst) {
  LoopInbox inbox;
  int wakes = 0;
  int urgent_wakes = 0;
  inbox.set_wake([&wakes] { ++wakes; });
  inbox.set_urgent_wake([&urgent_wakes] { ++urgent_wakes; });
  std::vector<std::string> ran;
  inbox.post([&ran] { ran.emplace_back("a"); });
  inbox.post([&ran] { ran.emplace_back("b"); });
  inbox.post_urgent([&ran] { ran.emplace_back("u1"); });
  inbox.post_urgent([&ran] { ran.emplace_back("u2"); });
  inbox.post_urgent([&ran] { ran.emplace_back("u3"); });
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(urgent_wakes, 1);
  EXPECT_TRUE(inbox.has_urgent());

  EXPECT_EQ(inbox.run_urgent(2), 2U);
  EXPECT_EQ(ran, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_TRUE(inbox.has_urgent());
  EXPECT_EQ(inbox.run_pending(2), 2U);
  EXPECT_EQ(ran, (std::vector<std::string>{"u1", "u2", "u3", "a"}));
  EXPECT_FALSE(inbox.has_urgent());
  EXPECT_TRUE(inbox.has_pending());
  EXPECT_EQ(inbox.run_urgent(10), 0U);
  EXPECT_EQ(inbox.run_pending(), 1U);
  EXPECT_FALSE(inbox.has_pending());

  inbox.post_urgent([] {});
  EXPECT_EQ(urgent_wakes, 2);
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(inbox.run_pending(), 1U);

  // Without an urgent wake the ordinary one serves, so nothing waits unseen.
  inbox.set_urgent_wake({});
  inbox.post_urgent([] {});
  EXPECT_EQ(wakes, 2);
  EXPECT_TRUE(inbox.has_pending());
  EXPECT_EQ(inbox.run_pending(), 1U);
}

}  // namespace
}  // namespace tether::hub
