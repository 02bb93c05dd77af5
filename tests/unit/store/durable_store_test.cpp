// DurableStore: logs (sequence numbers, reads, cumulative erase, trimming to a
// budget), documents (put, get, list, atomic commit), the queue bound and the
// lifetime rules. Every call goes through the real writer thread and SQLite file.
#include "daemon/store/durable_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/store/store_harness.hpp"

namespace tether::daemon::store::test {
namespace {

DurableStore::Options options_in(const tether::test::TempDir& dir) {
  DurableStore::Options options;
  options.directory = dir.path() / "state";
  return options;
}

// A marker body that says which range was dropped, like monitoring's `dropped`.
DurableStore::DropMarker marker_for(const DroppedRange& range, std::uint64_t seq) {
  return {bytes_of("dropped " + std::to_string(range.first) + ".." + std::to_string(range.last) +
                   " n=" + std::to_string(range.count) + " at " + std::to_string(seq)),
          0};
}

TEST(DurableStoreTest, CreatesTheStateDirectoryAndDatabase) {
  tether::test::TempDir dir;
  StoreHarness harness;
  auto options = options_in(dir);
  ASSERT_TRUE(harness.open(options).ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(options.directory / "tether.db"));
  EXPECT_EQ(harness.store().path(), options.directory / "tether.db");
}

TEST(DurableStoreTest, AppendAssignsConsecutiveSeqsPerLogAndReadReturnsThem) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  for (int i = 1; i <= 5; ++i) {
    auto seq = harness.append("monitoring", "record " + std::to_string(i));
    ASSERT_TRUE(seq.ok()) << seq.error().message();
    EXPECT_EQ(*seq, static_cast<std::uint64_t>(i));
  }
  auto other = harness.append("command-results", "other log");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, 1u);

  auto records = harness.read("monitoring", 2);
  ASSERT_TRUE(records.ok()) << records.error().message();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].seq, 3u);
  EXPECT_EQ(text_of((*records)[0].bytes), "record 3");
  EXPECT_EQ((*records)[2].seq, 5u);

  const LogStats stats = harness.stats("monitoring");
  EXPECT_EQ(stats.count, 5u);
  EXPECT_EQ(stats.bytes, 5u * 8u);
  EXPECT_EQ(stats.first_seq, 1u);
  EXPECT_EQ(stats.last_seq, 5u);
  EXPECT_EQ(stats.high_water, 5u);
  EXPECT_EQ(harness.stats("never-used").count, 0u);
}

TEST(DurableStoreTest, ReadStopsAtRecordAndByteLimitsButReturnsAtLeastOne) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(harness.append("log", "0123456789").ok());
  auto by_count = harness.read("log", 0, 4);
  ASSERT_TRUE(by_count.ok());
  EXPECT_EQ(by_count->size(), 4u);
  auto by_bytes = harness.read("log", 0, 100, 35);
  ASSERT_TRUE(by_bytes.ok());
  EXPECT_EQ(by_bytes->size(), 3u);
  auto at_least_one = harness.read("log", 5, 100, 1);
  ASSERT_TRUE(at_least_one.ok());
  ASSERT_EQ(at_least_one->size(), 1u);
  EXPECT_EQ(at_least_one->front().seq, 6u);
  auto none = harness.read("log", 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto unknown = harness.read("unknown", 0);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());
}

TEST(DurableStoreTest, EraseThroughIsCumulativeAndKeepsStatsExact) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(harness.append("log", std::string(10, 'x')).ok());
  ASSERT_TRUE(harness.erase_through("log", 4).ok());
  LogStats stats = harness.stats("log");
  EXPECT_EQ(stats.count, 2u);
  EXPECT_EQ(stats.bytes, 20u);
  EXPECT_EQ(stats.first_seq, 5u);
  EXPECT_EQ(stats.last_seq, 6u);
  // An older ack changes nothing; an ack past the end erases everything.
  ASSERT_TRUE(harness.erase_through("log", 2).ok());
  EXPECT_EQ(harness.stats("log").count, 2u);
  ASSERT_TRUE(harness.erase_through("log", 100).ok());
  stats = harness.stats("log");
  EXPECT_EQ(stats.count, 0u);
  EXPECT_EQ(stats.bytes, 0u);
  EXPECT_EQ(stats.first_seq, 0u);
  EXPECT_EQ(stats.last_seq, 0u);
  EXPECT_EQ(stats.high_water, 6u);
  ASSERT_TRUE(harness.erase_through("unknown", 5).ok());
}

TEST(DurableStoreTest, SeqsNeverRepeatAfterEveryRecordIsErasedAndAcrossReopen) {
  tether::test::TempDir dir;
  auto options = options_in(dir);
  {
    StoreHarness harness;
    ASSERT_TRUE(harness.open(options).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(harness.append("log", "a").ok());
    ASSERT_TRUE(harness.erase_through("log", 3).ok());
    auto next = harness.append("log", "b");
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(*next, 4u);
    ASSERT_TRUE(harness.erase_through("log", 4).ok());
  }
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options).ok());
  LogStats stats = harness.stats("log");
  EXPECT_EQ(stats.count, 0u);
  EXPECT_EQ(stats.high_water, 4u);
  auto after_reopen = harness.append("log", "c");
  ASSERT_TRUE(after_reopen.ok());
  EXPECT_EQ(*after_reopen, 5u);
  // Stats are reloaded from the file, not just kept in memory.
  ASSERT_TRUE(harness.append("log", "dd").ok());
  harness.close();
  ASSERT_TRUE(harness.open(options).ok());
  stats = harness.stats("log");
  EXPECT_EQ(stats.count, 2u);
  EXPECT_EQ(stats.bytes, 3u);
  EXPECT_EQ(stats.first_seq, 5u);
  EXPECT_EQ(stats.last_seq, 6u);
}

TEST(DurableStoreTest, AppendBatchIsConsecutive) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  ASSERT_TRUE(harness.append("log", "first").ok());
  auto first = harness.await<Result<std::uint64_t>>([&](auto done) {
    harness.store().append_batch("log", {bytes_of("a"), bytes_of("b"), bytes_of("c")},
                                 std::move(done));
  });
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 2u);
  EXPECT_EQ(harness.stats("log").last_seq, 4u);
  auto empty = harness.await<Result<std::uint64_t>>(
      [&](auto done) { harness.store().append_batch("log", {}, std::move(done)); });
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), ErrorCode::kInvalidArgument);
}

TEST(DurableStoreTest, TrimToBytesDropsTheOldestAndReturnsTheExactRange) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(harness.append("log", std::string(100, 'r')).ok());
  ASSERT_TRUE(harness.erase_through("log", 2).ok());  // records 3..10 remain, 800 bytes
  auto dropped = harness.trim("log", 450);
  ASSERT_TRUE(dropped.ok()) << dropped.error().message();
  EXPECT_EQ(dropped->first, 3u);
  EXPECT_EQ(dropped->last, 6u);
  EXPECT_EQ(dropped->count, 4u);
  EXPECT_EQ(dropped->bytes, 400u);
  const LogStats stats = harness.stats("log");
  EXPECT_EQ(stats.count, 4u);
  EXPECT_EQ(stats.bytes, 400u);
  EXPECT_EQ(stats.first_seq, 7u);
  auto records = harness.read("log", 0);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 4u);
  EXPECT_EQ(records->front().seq, 7u);

  auto nothing = harness.trim("log", 400);
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(nothing->count, 0u);
  auto everything = harness.trim("log", 0);
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->first, 7u);
  EXPECT_EQ(everything->last, 10u);
  EXPECT_EQ(harness.stats("log").count, 0u);
}

TEST(DurableStoreTest, AppendWithinBudgetDropsOldestAndAddsAMarkerInOneStep) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  const std::uint64_t reserve =
      marker_for(DroppedRange{UINT64_MAX, UINT64_MAX, UINT64_MAX, 0}, UINT64_MAX).bytes.size();
  const std::uint64_t budget = 1000;
  auto append = [&](std::size_t size) {
    return harness.await<Result<BudgetedAppend>>([&](auto done) {
      harness.store().append_within_budget("log", Bytes(size, 'm'), budget, marker_for,
                                           std::move(done));
    });
  };
  for (int i = 0; i < 10; ++i) {
    auto fits = append(100);
    ASSERT_TRUE(fits.ok()) << fits.error().message();
    EXPECT_FALSE(fits->dropped.has_value());
  }
  // 1000 bytes stored: the next 100 (and the marker's reserve) need room.
  auto over = append(100);
  ASSERT_TRUE(over.ok()) << over.error().message();
  ASSERT_TRUE(over->dropped.has_value());
  const std::uint64_t must_drop = 1000 + 100 + reserve - budget;
  const std::uint64_t dropped_records = (must_drop + 99) / 100;
  EXPECT_EQ(over->dropped->first, 1u);
  EXPECT_EQ(over->dropped->last, dropped_records);
  EXPECT_EQ(over->dropped->count, dropped_records);
  EXPECT_EQ(over->dropped->bytes, dropped_records * 100);
  EXPECT_EQ(over->dropped_record_seq, 11u);
  EXPECT_EQ(over->seq, 12u);
  const LogStats stats = harness.stats("log");
  EXPECT_LE(stats.bytes, budget);
  EXPECT_EQ(stats.first_seq, dropped_records + 1);
  auto marker = harness.read("log", 10, 1);
  ASSERT_TRUE(marker.ok());
  ASSERT_EQ(marker->size(), 1u);
  EXPECT_EQ(text_of(marker->front().bytes),
            text_of(marker_for(*over->dropped, over->dropped_record_seq).bytes));

  auto too_big = append(budget);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(harness.stats("log").high_water, 12u);  // nothing was used up
}

TEST(DurableStoreTest, AMakerCanGrowTheMarkerItWroteBeforeInsteadOfAddingOne) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  // The maker keeps one marker: the first loss appends it, later ones rewrite it.
  std::uint64_t marker_seq = 0;
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  auto growing = [&](const DroppedRange& range, std::uint64_t seq) {
    if (range.first == UINT64_MAX) return marker_for(range, seq);  // the size reserve
    if (marker_seq == 0) {
      marker_seq = seq;
      first = range.first;
    }
    count += range.count;
    DroppedRange total{first, range.last, count, 0};
    auto marker = marker_for(total, marker_seq);
    marker.replaces_seq = marker_seq == seq ? 0 : marker_seq;
    return marker;
  };
  auto append = [&](std::size_t size) {
    return harness.await<Result<BudgetedAppend>>([&](auto done) {
      harness.store().append_within_budget("log", Bytes(size, 'm'), 1000, growing, std::move(done));
    });
  };
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(append(100).ok());
  auto first_loss = append(100);
  ASSERT_TRUE(first_loss.ok()) << first_loss.error().message();
  EXPECT_EQ(first_loss->dropped_record_seq, 11u);
  auto second_loss = append(100);
  ASSERT_TRUE(second_loss.ok()) << second_loss.error().message();
  ASSERT_TRUE(second_loss->dropped.has_value());
  EXPECT_EQ(second_loss->dropped_record_seq, 11u);  // rewritten, not added
  EXPECT_EQ(second_loss->seq, 13u);                 // no seq spent on a second marker
  const LogStats stats = harness.stats("log");
  EXPECT_LE(stats.bytes, 1000u);
  auto marker = harness.read("log", 10, 1);
  ASSERT_TRUE(marker.ok());
  ASSERT_EQ(marker->size(), 1u);
  EXPECT_EQ(marker->front().seq, 11u);
  const std::string expected = "dropped 1.." + std::to_string(second_loss->dropped->last) +
                               " n=" + std::to_string(count) + " at 11";
  EXPECT_EQ(text_of(marker->front().bytes), expected);
  // The byte count follows the rewrite: reopening computes the same total.
  const std::uint64_t bytes_before = stats.bytes;
  harness.close();
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  EXPECT_EQ(harness.stats("log").bytes, bytes_before);
}

TEST(DurableStoreTest, DocumentsPutGetReplaceEraseAndList) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  auto missing = harness.get("config/current");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(harness.put("config/current", "v1").ok());
  ASSERT_TRUE(harness.put("config/current", "v2").ok());
  ASSERT_TRUE(harness.put("config0", "not in the prefix").ok());
  ASSERT_TRUE(harness.put("config/other", std::string("\0bin\xff", 5)).ok());
  auto got = harness.get("config/current");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(text_of(**got), "v2");
  auto listed = harness.list("config/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "config/current");
  EXPECT_EQ((*listed)[1].key, "config/other");
  EXPECT_EQ(text_of((*listed)[1].bytes), std::string("\0bin\xff", 5));
  auto all = harness.list("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  ASSERT_TRUE(harness.put("empty", "").ok());
  auto empty = harness.get("empty");
  ASSERT_TRUE(empty.ok() && empty->has_value());
  EXPECT_TRUE((*empty)->empty());

  auto erased = harness.await<Status>(
      [&](auto done) { harness.store().erase("config/current", std::move(done)); });
  ASSERT_TRUE(erased.ok());
  auto gone = harness.get("config/current");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST(DurableStoreTest, CommitAppliesPutsAndErasesTogetherAndSurvivesReopen) {
  tether::test::TempDir dir;
  auto options = options_in(dir);
  {
    StoreHarness harness;
    ASSERT_TRUE(harness.open(options).ok());
    ASSERT_TRUE(harness.put("cmd/seen/1", "pending").ok());
    DocumentChange change;
    change.puts.push_back(Document{"cmd/result/1", bytes_of("ok")});
    change.puts.push_back(Document{"cmd/seen/1", bytes_of("done")});
    change.erases.emplace_back("cmd/seen/0");
    ASSERT_TRUE(harness.commit(change).ok());
  }
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options).ok());
  auto result = harness.get("cmd/result/1");
  ASSERT_TRUE(result.ok() && result->has_value());
  EXPECT_EQ(text_of(**result), "ok");
  auto seen = harness.get("cmd/seen/1");
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_EQ(text_of(**seen), "done");
}

TEST(DurableStoreTest, AnOversizedValueIsRejectedAndChangesNothing) {
  tether::test::TempDir dir;
  StoreHarness harness;
  auto options = options_in(dir);
  options.max_value_bytes = 16;
  ASSERT_TRUE(harness.open(options).ok());
  ASSERT_TRUE(harness.put("a", "old").ok());
  DocumentChange change;
  change.puts.push_back(Document{"a", bytes_of("new")});
  change.puts.push_back(Document{"b", Bytes(17, 'x')});
  Status committed = harness.commit(change);
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.error().code(), ErrorCode::kInvalidArgument);
  auto a = harness.get("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(text_of(**a), "old");
  auto record = harness.append("log", std::string(17, 'x'));
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(harness.stats("log").high_water, 0u);
}

TEST(DurableStoreTest, AFullQueueAnswersBusyLaterAndNeverGrowsWithoutBound) {
  tether::test::TempDir dir;
  StoreHarness harness;
  auto options = options_in(dir);
  options.max_queued_operations = 4;
  options.max_queued_bytes = 64;
  ASSERT_TRUE(harness.open(options).ok());

  // Over the byte bound on its own: always busy, and not inside the call.
  auto busy = harness.await<Result<std::uint64_t>>([&](auto done) {
    auto returned = std::make_shared<bool>(false);
    harness.store().append("log", Bytes(65, 'x'), [returned, done](Result<std::uint64_t> r) {
      EXPECT_TRUE(*returned) << "done ran inside the call";
      done(std::move(r));
    });
    *returned = true;
  });
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code(), ErrorCode::kBusy);
  EXPECT_NE(busy.error().message().find("tether.db"), std::string::npos);

  // 200 appends queued in one loop turn, while the writer commits: most wait for
  // a queue of four, so some are refused; every caller hears back exactly once.
  static constexpr int kCalls = 200;
  struct Tally {
    int ok = 0;
    int busy = 0;
    int other = 0;
    std::vector<std::uint64_t> seqs;
  };
  auto tally = harness.await<Tally>([&](auto done) {
    auto state = std::make_shared<Tally>();
    for (int i = 0; i < kCalls; ++i) {
      harness.store().append("log", bytes_of("r"), [state, done](Result<std::uint64_t> r) {
        if (r.ok()) {
          state->ok += 1;
          state->seqs.push_back(*r);
        } else if (r.error().code() == ErrorCode::kBusy) {
          state->busy += 1;
        } else {
          state->other += 1;
        }
        if (state->ok + state->busy + state->other == kCalls) done(*state);
      });
    }
  });
  EXPECT_EQ(tally.ok + tally.busy, kCalls);
  EXPECT_EQ(tally.other, 0);
  EXPECT_GT(tally.busy, 0);
  EXPECT_GE(tally.ok, 4);
  // Accepted appends got consecutive numbers: a refused one used none up.
  for (std::size_t i = 0; i < tally.seqs.size(); ++i) EXPECT_EQ(tally.seqs[i], i + 1);
  EXPECT_EQ(harness.stats("log").count, static_cast<std::uint64_t>(tally.ok));
}

TEST(DurableStoreTest, ConcurrentAppendsShareTransactions) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  const auto before = harness.on_loop([&] { return harness.store().counters(); });
  static constexpr int kWriters = 64;
  auto acked = harness.await<int>([&](auto done) {
    auto count = std::make_shared<int>(0);
    for (int i = 0; i < kWriters; ++i) {
      harness.store().append("log", bytes_of("x"), [count, done](Result<std::uint64_t> r) {
        EXPECT_TRUE(r.ok());
        if (++*count == kWriters) done(*count);
      });
    }
  });
  EXPECT_EQ(acked, kWriters);
  const auto after = harness.on_loop([&] { return harness.store().counters(); });
  // Queued in one loop turn: the writer takes them in (at most) a few batches, one
  // sync each, not one per append.
  EXPECT_LT(after.transactions - before.transactions, 8u);
  EXPECT_EQ(after.operations - before.operations, static_cast<std::uint64_t>(kWriters));
}

TEST(DurableStoreTest, NoCallbackAfterDestructionButQueuedWritesAreCommitted) {
  tether::test::TempDir dir;
  auto options = options_in(dir);
  auto called = std::make_shared<std::atomic<bool>>(false);
  {
    StoreHarness harness;
    ASSERT_TRUE(harness.open(options).ok());
    harness.on_loop([&] {
      for (int i = 0; i < 10; ++i) {
        harness.store().append("log", bytes_of("late"),
                               [called](Result<std::uint64_t>) { called->store(true); });
      }
      harness.destroy_store();  // on the loop thread, right after queueing
      return 0;
    });
    // One more turn of the loop: anything posted by the writer has run by now.
    harness.on_loop([] { return 0; });
  }
  EXPECT_FALSE(called->load());
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options).ok());
  EXPECT_EQ(harness.stats("log").count, 10u);
}

TEST(DurableStoreTest, StatsChangeOnlyOnceTheWriteIsCommitted) {
  tether::test::TempDir dir;
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_in(dir)).ok());
  auto seen = harness.await<std::pair<std::uint64_t, std::uint64_t>>([&](auto done) {
    const std::uint64_t at_call = harness.store().stats("log").count;
    harness.store().append("log", bytes_of("abc"), [&harness, at_call, done](auto) {
      done({at_call, harness.store().stats("log").count});
    });
  });
  EXPECT_EQ(seen.first, 0u);
  EXPECT_EQ(seen.second, 1u);
}

}  // namespace
}  // namespace tether::daemon::store::test
