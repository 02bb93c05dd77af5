// The SQLite MonitoringStore: records kept once per (device, seq), completions
// only after the commit, open alerts, latest values, downsampled series, status,
// presence, and pruning by age and per-stream cap.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "hub/store/sqlite_monitoring_store.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {
namespace {

class Dir {
 public:
  Dir() {
    char tmpl[] = "/tmp/tether-hub-mon-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~Dir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

MonitoringRecord data(std::uint64_t seq, std::int64_t ts, const std::string& stream,
                      const std::string& values) {
  MonitoringRecord r;
  r.seq = seq;
  r.ts = ts;
  r.kind = RecordKind::kData;
  r.stream = stream;
  r.body_json = values;
  return r;
}

MonitoringRecord alert(std::uint64_t seq, const std::string& id, const std::string& state) {
  MonitoringRecord r;
  r.seq = seq;
  r.ts = static_cast<std::int64_t>(seq);
  r.kind = RecordKind::kAlert;
  r.stream = id;
  r.severity = "major";
  r.alert_state = state;
  r.summary = "s" + std::to_string(seq);
  r.body_json = "{}";
  return r;
}

class MonitoringStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    store.reset();
    auto s = SqliteMonitoringStore::open(dir.path() + "/state", retention);
    ASSERT_TRUE(s.ok()) << s.error().message();
    store = std::move(*s);
  }
  // Appends and waits for the completion; returns its status.
  Status append(const std::string& device, std::vector<MonitoringRecord> records) {
    std::promise<Status> done;
    store->append(device, std::move(records), [&](const Status& s) { done.set_value(s); });
    return done.get_future().get();
  }

  Dir dir;
  MonitoringRetention retention;
  std::unique_ptr<SqliteMonitoringStore> store;
};

TEST_F(MonitoringStoreTest, ARecordIsStoredOncePerDeviceAndSeq) {
  ASSERT_TRUE(
      append("gw", {data(1, 10, "env", R"({"t":1})"), data(2, 20, "env", R"({"t":2})")}).ok());
  ASSERT_TRUE(
      append("gw", {data(2, 99, "env", R"({"t":99})"), data(3, 30, "env", R"({"t":3})")}).ok());
  ASSERT_TRUE(append("other", {data(1, 10, "env", R"({"t":5})")}).ok());
  EXPECT_EQ(*store->count("gw"), 3);
  EXPECT_EQ(*store->count("other"), 1);
  auto rows = store->records_after("gw", 0, 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[1].record.body_json, R"({"t":2})");  // the first copy stays
  // Cursors grow; "after" pages.
  auto after = store->records_after("gw", (*rows)[0].cursor, 1);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->at(0).record.seq, 2u);
  EXPECT_EQ(*store->last_cursor("gw"), (*rows)[2].cursor);
  EXPECT_EQ(*store->last_cursor("nobody"), 0);
}

TEST_F(MonitoringStoreTest, TheCompletionRunsAfterTheCommitAndSeesTheRecords) {
  std::promise<std::int64_t> seen;
  // A second connection (another reader) must see the records once done runs.
  auto other = SqliteMonitoringStore::open(dir.path() + "/state", retention);
  ASSERT_TRUE(other.ok());
  SqliteMonitoringStore& reader = **other;
  store->append("gw", {data(1, 1, "s", "{}")},
                [&](const Status&) { seen.set_value(*reader.count("gw")); });
  EXPECT_EQ(seen.get_future().get(), 1);
}

TEST_F(MonitoringStoreTest, ManyAppendsShareBatches) {
  std::atomic<int> done{0};
  for (int i = 1; i <= 2000; ++i) {
    store->append("gw", {data(static_cast<std::uint64_t>(i), i, "s", "{}")}, [&](const Status& s) {
      if (s.ok()) ++done;
    });
  }
  ASSERT_TRUE(store->flush().ok());
  EXPECT_EQ(done.load(), 2000);
  EXPECT_LT(store->batches_written(), 2000u);
}

TEST_F(MonitoringStoreTest, LatestValuePerStream) {
  ASSERT_TRUE(append("gw", {data(1, 1, "a", R"({"v":1})"), data(2, 2, "b", R"({"v":2})"),
                            data(3, 3, "a", R"({"v":3})"), alert(4, "x", "raised")})
                  .ok());
  auto latest = store->latest_per_stream("gw");
  ASSERT_TRUE(latest.ok());
  ASSERT_EQ(latest->size(), 2u);
  EXPECT_EQ((*latest)[0].record.stream, "a");
  EXPECT_EQ((*latest)[0].record.seq, 3u);
  EXPECT_EQ((*latest)[0].record.body_json, R"({"v":3})");
  EXPECT_EQ((*latest)[1].record.stream, "b");
}

TEST_F(MonitoringStoreTest, AlertsOpenAndClearByTheirNewestRecord) {
  ASSERT_TRUE(append("gw", {alert(1, "hot", "raised"), alert(2, "door", "raised"),
                            alert(3, "hot", "cleared")})
                  .ok());
  auto open = store->open_alerts("gw");
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->at(0).id, "door");
  // A re-sent older record does not reopen "hot".
  ASSERT_TRUE(append("gw", {alert(1, "hot", "raised")}).ok());
  EXPECT_EQ(store->open_alerts("gw")->size(), 1u);
  auto counts = store->open_alert_counts();
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ(counts->at(0), std::make_pair(std::string("gw"), std::size_t{1}));
  auto history = store->alert_history("gw", 10);
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ(history->at(0).record.seq, 3u);  // newest first
  EXPECT_EQ(history->at(0).record.alert_state, "cleared");
}

TEST_F(MonitoringStoreTest, ASeriesIsDownsampledOnTheServer) {
  std::vector<MonitoringRecord> records;
  for (int i = 0; i < 1000; ++i) {
    records.push_back(data(static_cast<std::uint64_t>(i + 1), 1000 + i, "env",
                           "{\"t\":" + std::to_string(i) + ",\"name\":\"x\"}"));
  }
  ASSERT_TRUE(append("gw", std::move(records)).ok());
  SeriesQuery q{"gw", "env", "t", 1000, 1999, 10};
  auto points = store->series(q);
  ASSERT_TRUE(points.ok()) << points.error().message();
  ASSERT_EQ(points->size(), 10u);
  EXPECT_EQ(points->at(0).ts, 1000);
  EXPECT_DOUBLE_EQ(points->at(0).mean, 49.5);
  EXPECT_DOUBLE_EQ(points->at(0).min, 0);
  EXPECT_DOUBLE_EQ(points->at(0).max, 99);
  EXPECT_EQ(points->at(0).count, 100);
  // A range picks its part; a non-numeric field has no points.
  q.from_ms = 1500;
  q.max_points = 1000;
  EXPECT_EQ(store->series(q)->size(), 500u);
  q.field = "name";
  EXPECT_TRUE(store->series(q)->empty());
}

TEST_F(MonitoringStoreTest, StatusAndPresence) {
  store->record_status("gw", {"online", "1.0", "boot", 5, R"({"os":"x"})", 100});
  store->record_presence("gw", {100, "online", ""});
  store->record_presence("gw", {200, "offline", ""});
  ASSERT_TRUE(store->flush().ok());
  auto st = store->status("gw");
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ((*st)->inventory_json, R"({"os":"x"})");
  EXPECT_EQ((*st)->version, "1.0");
  auto presence = store->presence("gw", 10);
  ASSERT_EQ(presence->size(), 2u);
  EXPECT_EQ(presence->at(0).event, "offline");
  EXPECT_FALSE(store->status("nobody")->has_value());
}

TEST_F(MonitoringStoreTest, PruningDropsOldHistoryAndCapsStreams) {
  retention.retention_days = 1;
  retention.max_records_per_stream = 3;
  open();
  std::vector<MonitoringRecord> records;
  for (int i = 1; i <= 5; ++i) records.push_back(data(static_cast<std::uint64_t>(i), i, "a", "{}"));
  records.push_back(data(6, 6, "b", "{}"));
  ASSERT_TRUE(append("gw", std::move(records)).ok());
  store->record_presence("gw", {now_ms(), "online", ""});
  ASSERT_TRUE(store->prune_now(now_ms()).ok());
  auto rows = store->records_after("gw", 0, 100);
  ASSERT_EQ(rows->size(), 4u);  // a: 3, 4, 5 (oldest went first); b: 6
  EXPECT_EQ(rows->at(0).record.seq, 3u);
  // Two days later, everything is past the retention.
  ASSERT_TRUE(store->prune_now(now_ms() + 2 * 86400000LL).ok());
  EXPECT_EQ(*store->count("gw"), 0);
  EXPECT_TRUE(store->presence("gw", 10)->empty());
}

TEST_F(MonitoringStoreTest, TheWriterPrunesOnItsOwn) {
  retention.retention_days = 1e-6;  // 86 ms
  retention.prune_interval_s = 0.05;
  open();
  ASSERT_TRUE(append("gw", {data(1, 1, "a", "{}")}).ok());
  // Waits for the writer's own prune (bounded by the test's timeout).
  while (*store->count("gw") != 0) ::usleep(20000);
  SUCCEED();
}

TEST_F(MonitoringStoreTest, RecordsSurviveReopening) {
  ASSERT_TRUE(append("gw", {data(1, 1, "a", "{}")}).ok());
  open();
  EXPECT_EQ(*store->count("gw"), 1);
  ASSERT_TRUE(append("gw", {data(1, 1, "a", "{}")}).ok());
  EXPECT_EQ(*store->count("gw"), 1);
}

}  // namespace
}  // namespace tether::hub
