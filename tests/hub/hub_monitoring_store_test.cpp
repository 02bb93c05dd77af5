// The SQL MonitoringStore, on SQLite and on PostgreSQL: records kept once per
// (device, seq), completions only after the commit, open alerts, latest values,
// downsampled series, status, presence, and pruning by age and per-stream cap.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hub/store/sql_monitoring_store.hpp"
#include "hub/store/store.hpp"
#include "tests/support/sql_store.hpp"

namespace tether::hub {
namespace {

using tether::test::SqlBackend;
using tether::test::SqlTestStore;

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

class MonitoringStoreTest : public ::testing::TestWithParam<SqlBackend> {
 protected:
  void SetUp() override {
    auto db = SqlTestStore::create(GetParam());
    ASSERT_TRUE(db.ok()) << db.error().message();
    database = std::move(*db);
    open();
  }
  void open() {
    store.reset();
    auto s = SqlMonitoringStore::open(database->url(), retention);
    ASSERT_TRUE(s.ok()) << s.error().message();
    store = std::move(*s);
  }
  // Appends and waits for the completion; returns its status.
  Status append(const std::string& device, std::vector<MonitoringRecord> records) {
    std::promise<Status> done;
    store->append(device, std::move(records), [&](const Status& s) { done.set_value(s); });
    return done.get_future().get();
  }

  std::unique_ptr<SqlTestStore> database;  // first: outlives the store
  MonitoringRetention retention;
  std::unique_ptr<SqlMonitoringStore> store;
};

TEST_P(MonitoringStoreTest, ARecordIsStoredOncePerDeviceAndSeq) {
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

TEST_P(MonitoringStoreTest, TheCompletionRunsAfterTheCommitAndSeesTheRecords) {
  std::promise<std::int64_t> seen;
  // A second connection (another reader) must see the records once done runs.
  auto other = SqlMonitoringStore::open(database->url(), retention);
  ASSERT_TRUE(other.ok());
  SqlMonitoringStore& reader = **other;
  store->append("gw", {data(1, 1, "s", "{}")},
                [&](const Status&) { seen.set_value(*reader.count("gw")); });
  EXPECT_EQ(seen.get_future().get(), 1);
}

TEST_P(MonitoringStoreTest, ManyAppendsShareBatches) {
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

// Records that come within a second of the last commit wait for the next one and
// go together (one page write per device per commit, not per record); a record
// that comes alone is committed at once. Each append here would be a batch of its
// own without the gap: the writer is idle when it comes.
TEST_P(MonitoringStoreTest, AppendsWithinASecondOfACommitGoInTheNextOneTogether) {
  std::promise<void> first;
  store->append("gw", {data(1, 1, "s", "{}")}, [&](const Status&) { first.set_value(); });
  first.get_future().get();
  const std::uint64_t before = store->batches_written();
  std::promise<void> last;
  for (std::uint64_t seq = 2; seq <= 4; ++seq) {
    store->append("gw", {data(seq, 1, "s", "{}")}, [&, seq](const Status&) {
      if (seq == 4) last.set_value();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  last.get_future().get();  // no flush(): it would end the wait
  // One batch; two if the machine stalled past the gap between two appends.
  EXPECT_LE(store->batches_written() - before, 2u);
  EXPECT_EQ(*store->count("gw"), 4);
}

TEST_P(MonitoringStoreTest, LatestValuePerStream) {
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

TEST_P(MonitoringStoreTest, AlertsOpenAndClearByTheirNewestRecord) {
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

TEST_P(MonitoringStoreTest, ASeriesIsDownsampledOnTheServer) {
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

TEST_P(MonitoringStoreTest, StatusAndPresence) {
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

TEST_P(MonitoringStoreTest, PruningDropsOldHistoryAndCapsStreams) {
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

TEST_P(MonitoringStoreTest, TheWriterPrunesOnItsOwn) {
  retention.retention_days = 1e-6;  // 86 ms
  retention.prune_interval_s = 0.05;
  open();
  ASSERT_TRUE(append("gw", {data(1, 1, "a", "{}")}).ok());
  // Waits for the writer's own prune (bounded by the test's timeout).
  while (*store->count("gw") != 0) ::usleep(20000);
  SUCCEED();
}

TEST_P(MonitoringStoreTest, RecordsSurviveReopening) {
  ASSERT_TRUE(append("gw", {data(1, 1, "a", "{}")}).ok());
  open();
  EXPECT_EQ(*store->count("gw"), 1);
  ASSERT_TRUE(append("gw", {data(1, 1, "a", "{}")}).ok());
  EXPECT_EQ(*store->count("gw"), 1);
}

// More records than one multi-row insert holds, in one batch, with duplicates
// inside the batch and against stored rows, and alerts in the multi-row part:
// each (device, seq) is stored once and only new alert records move the open set.
TEST_P(MonitoringStoreTest, ABigBatchStoresEachRecordOnce) {
  ASSERT_TRUE(append("gw", {alert(5, "old", "raised")}).ok());
  std::vector<MonitoringRecord> records;
  for (int i = 1; i <= 300; ++i) {
    records.push_back(data(static_cast<std::uint64_t>(i), i, "s", R"({"v":1})"));
  }
  records[40] = alert(41, "door", "raised");
  records[70] = alert(71, "door", "cleared");
  records[100] = alert(101, "fan", "raised");
  records[260] = alert(261, "pump", "raised");
  records[4] = alert(5, "old", "cleared");                 // seq 5 is stored already: ignored
  records.push_back(data(7, 7, "s", R"({"v":"again"})"));  // a duplicate inside the batch
  std::promise<Status> first;
  std::promise<Status> second;
  store->append("gw", std::move(records), [&](const Status& s) { first.set_value(s); });
  // A second device's append joins the same batch (or the next one).
  std::vector<MonitoringRecord> more;
  for (int i = 1; i <= 70; ++i) more.push_back(data(static_cast<std::uint64_t>(i), i, "s", "{}"));
  store->append("gw2", std::move(more), [&](const Status& s) { second.set_value(s); });
  ASSERT_TRUE(first.get_future().get().ok());
  ASSERT_TRUE(second.get_future().get().ok());
  EXPECT_EQ(*store->count("gw"), 300);
  EXPECT_EQ(*store->count("gw2"), 70);
  auto open = store->open_alerts("gw");
  ASSERT_TRUE(open.ok());
  std::vector<std::string> ids;
  for (const auto& a : *open) ids.push_back(a.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"fan", "old", "pump"}));
  auto rows = store->records_after("gw", 0, 1000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 300u);
  const auto seven = std::find_if(rows->begin(), rows->end(),
                                  [](const StoredRecord& r) { return r.record.seq == 7; });
  ASSERT_NE(seven, rows->end());
  EXPECT_EQ(seven->record.body_json, R"({"v":1})");  // the first copy stays
  for (std::size_t i = 1; i < rows->size(); ++i) {
    EXPECT_GT(rows->at(i).cursor, rows->at(i - 1).cursor);
  }
}

// Data and dropped records store NULL in the alert-only columns (severity,
// alert_state, summary), whether their insert held alerts or not, and read back
// as "", as they always did; alerts keep theirs, an empty summary reading back "".
TEST_P(MonitoringStoreTest, DataRecordsLeaveTheAlertColumnsNull) {
  std::vector<MonitoringRecord> records;
  // 64 data rows (a data-only statement), 64 with an alert among them, 8 data
  // rows, then one by one: a data record, an alert without a summary, a dropped.
  for (int i = 1; i <= 136; ++i) {
    records.push_back(data(static_cast<std::uint64_t>(i), i, "s", R"({"v":1})"));
  }
  records[99] = alert(100, "door", "raised");
  records.push_back(data(137, 137, "s", "{}"));
  MonitoringRecord quiet = alert(138, "fan", "raised");
  quiet.summary.clear();
  records.push_back(quiet);
  MonitoringRecord dropped;
  dropped.seq = 139;
  dropped.ts = 139;
  dropped.kind = RecordKind::kDropped;
  dropped.body_json = R"({"first":1,"last":2,"count":2})";
  records.push_back(dropped);
  ASSERT_TRUE(append("gw", std::move(records)).ok());

  auto db = database->connect("monitoring.db");
  ASSERT_TRUE(db.ok()) << db.error().message();
  auto nulls = (*db)->query(
      "SELECT kind, COUNT(*) FROM records WHERE severity IS NULL AND alert_state IS NULL AND "
      "summary IS NULL GROUP BY kind ORDER BY kind");
  ASSERT_TRUE(nulls.ok()) << nulls.error().message();
  ASSERT_EQ(nulls->size(), 2u);
  EXPECT_EQ(nulls->at(0).text(0), "data");
  EXPECT_EQ(nulls->at(0).int64(1), 136);
  EXPECT_EQ(nulls->at(1).text(0), "dropped");
  EXPECT_EQ(nulls->at(1).int64(1), 1);
  auto alerts = (*db)->query(
      "SELECT seq, severity, alert_state, summary FROM records WHERE kind = 'alert' ORDER BY seq");
  ASSERT_TRUE(alerts.ok()) << alerts.error().message();
  ASSERT_EQ(alerts->size(), 2u);
  EXPECT_EQ(alerts->at(0).opt_text(1), std::optional<std::string>("major"));
  EXPECT_EQ(alerts->at(0).opt_text(2), std::optional<std::string>("raised"));
  EXPECT_EQ(alerts->at(0).opt_text(3), std::optional<std::string>("s100"));
  EXPECT_EQ(alerts->at(1).opt_text(1), std::optional<std::string>("major"));
  EXPECT_TRUE(alerts->at(1).is_null(3));  // the empty summary

  auto rows = store->records_after("gw", 0, 1000);
  ASSERT_TRUE(rows.ok()) << rows.error().message();
  ASSERT_EQ(rows->size(), 139u);
  for (const StoredRecord& r : *rows) {
    if (r.record.kind == RecordKind::kAlert) {
      EXPECT_EQ(r.record.severity, "major");
      EXPECT_EQ(r.record.alert_state, "raised");
      EXPECT_EQ(r.record.summary, r.record.seq == 100 ? "s100" : "");
    } else {
      EXPECT_EQ(r.record.severity, "") << r.record.seq;
      EXPECT_EQ(r.record.alert_state, "") << r.record.seq;
      EXPECT_EQ(r.record.summary, "") << r.record.seq;
    }
  }
  EXPECT_EQ(rows->at(99).record.stream, "door");
  EXPECT_EQ(rows->at(138).record.kind, RecordKind::kDropped);
  EXPECT_EQ(rows->at(138).record.body_json, R"({"first":1,"last":2,"count":2})");
  auto open = store->open_alerts("gw");
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 2u);
}

// Pruning by age walks the records in cursor order: a batch received before the
// cutoff goes, the batch received at the cutoff stays.
TEST_P(MonitoringStoreTest, PruningByAgeDropsTheBatchesReceivedBeforeTheCutoff) {
  retention.retention_days = 1;
  open();
  ASSERT_TRUE(append("gw", {data(1, 1, "a", "{}"), data(2, 2, "b", "{}")}).ok());
  const std::int64_t first = now_ms();
  while (now_ms() <= first + 1) ::usleep(1000);  // the next batch's received_ms is later
  ASSERT_TRUE(append("gw", {data(3, 3, "a", "{}")}).ok());
  ASSERT_TRUE(append("other", {data(1, 4, "a", "{}")}).ok());
  auto rows = store->records_after("gw", 0, 10);
  ASSERT_EQ(rows->size(), 3u);
  const std::int64_t kept_from = rows->at(2).received_ms;
  ASSERT_GT(kept_from, rows->at(1).received_ms);
  ASSERT_TRUE(store->prune_now(kept_from + 86400000LL).ok());
  rows = store->records_after("gw", 0, 10);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).record.seq, 3u);
  EXPECT_EQ(*store->count("other"), 1);
  // Nothing received before the cutoff: nothing goes.
  ASSERT_TRUE(store->prune_now(kept_from + 86400000LL).ok());
  EXPECT_EQ(*store->count("gw"), 1);
}

// Schema version 2 drops records_by_age from a database made by version 1.
TEST_P(MonitoringStoreTest, TheAgeIndexOfAnOlderDatabaseIsDropped) {
  const bool sqlite = GetParam() == SqlBackend::kSqlite;
  const std::string index_count =
      sqlite ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'records_by_age'"
             : "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'records_by_age'";
  {
    auto db = database->connect("monitoring.db");
    ASSERT_TRUE(db.ok()) << db.error().message();
    EXPECT_EQ((*db)->query(index_count)->front().int64(0), 0);
    // Back to what version 1 left.
    ASSERT_TRUE((*db)->exec("CREATE INDEX records_by_age ON records(received_ms)").ok());
    ASSERT_TRUE(
        (*db)
            ->run("DELETE FROM schema_migrations WHERE store = 'monitoring' AND version = 2")
            .ok());
    EXPECT_EQ((*db)->query(index_count)->front().int64(0), 1);
  }
  ASSERT_TRUE(append("gw", {data(1, 1, "a", "{}")}).ok());
  open();
  auto db = database->connect("monitoring.db");
  ASSERT_TRUE(db.ok()) << db.error().message();
  EXPECT_EQ((*db)->query(index_count)->front().int64(0), 0);
  EXPECT_EQ(*store->count("gw"), 1);
}

// A device's text that PostgreSQL would refuse (bad UTF-8, NUL) is stored with
// U+FFFD in place of each bad byte, on both back ends, and does not fail the batch
// the other records share.
TEST_P(MonitoringStoreTest, TextThatIsNotUtf8IsStoredReplacedAndFailsNothing) {
  MonitoringRecord bad = alert(2, std::string("hot\xff\0x", 6), "raised");
  bad.summary = std::string("sum\xc0\xafmary\xed\xa0\x80", 12);
  std::promise<Status> good_done;
  store->append("other", {data(1, 1, "fine", R"({"v":1})")},
                [&](const Status& s) { good_done.set_value(s); });
  ASSERT_TRUE(append("gw", {data(1, 1, std::string("s\xfe", 2), "{}"), bad}).ok());
  EXPECT_TRUE(good_done.get_future().get().ok());
  store->record_status("gw", {"online", std::string("1.0\xff", 4), "b", 1, "{}", 5});
  store->record_presence("gw", {5, "online", std::string("\0", 1)});
  ASSERT_TRUE(store->flush().ok());
  EXPECT_EQ(*store->count("other"), 1);
  auto rows = store->records_after("gw", 0, 10);
  ASSERT_TRUE(rows.ok()) << rows.error().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->at(0).record.stream, "s\xEF\xBF\xBD");
  EXPECT_EQ(rows->at(1).record.stream, "hot\xEF\xBF\xBD\xEF\xBF\xBDx");
  EXPECT_EQ(rows->at(1).record.summary,
            "sum\xEF\xBF\xBD\xEF\xBF\xBDmary\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  auto open = store->open_alerts("gw");
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->at(0).id, "hot\xEF\xBF\xBD\xEF\xBF\xBDx");
  EXPECT_EQ((*store->status("gw"))->version, "1.0\xEF\xBF\xBD");
  EXPECT_EQ(store->presence("gw", 1)->at(0).detail, "\xEF\xBF\xBD");
  // A NUL inside a value reaches the body as the JSON escape \u0000 (valid JSON,
  // which PostgreSQL's jsonb refuses): the series still answers, from the rest.
  ASSERT_TRUE(append("gw", {data(10, 100, "env", R"({"t":1,"name":"a\u0000b"})"),
                            data(11, 101, "env", R"({"t":3})")})
                  .ok());
  auto points = store->series({"gw", "env", "t", 0, 1000, 10});
  ASSERT_TRUE(points.ok()) << points.error().message();
  std::int64_t counted = 0;
  for (const SeriesPoint& p : *points) counted += p.count;
  EXPECT_GE(counted, 1);
  EXPECT_LE(counted, 2);
}

// PostgreSQL restarts under a running store: both connections are dropped. The
// batch and the read that meet a dead connection run once more on a new one, so
// the restart costs the device no retry and the operator no error; the records
// are stored once.
TEST(MonitoringStorePostgres, RidesOutAServerRestart) {
  auto database = SqlTestStore::create(SqlBackend::kPostgres);
  ASSERT_TRUE(database.ok()) << database.error().message();
  auto opened = SqlMonitoringStore::open((*database)->url(), MonitoringRetention{});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  SqlMonitoringStore& store = **opened;
  auto append = [&](std::vector<MonitoringRecord> records) {
    std::promise<Status> done;
    store.append("gw", std::move(records), [&](const Status& s) { done.set_value(s); });
    return done.get_future().get();
  };
  ASSERT_TRUE(append({data(1, 1, "s", "{}")}).ok());
  ASSERT_EQ(*store.count("gw"), 1);
  ASSERT_TRUE((*database)->postgres()->restart().ok());
  const Status stored = append({data(2, 2, "s", "{}"), data(3, 3, "s", "{}")});
  ASSERT_TRUE(stored.ok()) << stored.error().message();
  auto count = store.count("gw");
  ASSERT_TRUE(count.ok()) << count.error().message();
  EXPECT_EQ(*count, 3);
  // Down for good: the error says so instead of hanging.
  ASSERT_TRUE((*database)->postgres()->stop().ok());
  const Status refused = append({data(4, 4, "s", "{}")});
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(store.count("gw").ok());
  ASSERT_TRUE((*database)->postgres()->start_again().ok());
  EXPECT_TRUE(append({data(4, 4, "s", "{}")}).ok());
  EXPECT_EQ(*store.count("gw"), 4);
}

INSTANTIATE_TEST_SUITE_P(Backends, MonitoringStoreTest, tether::test::kBothSqlBackends,
                         tether::test::sql_backend_name);

}  // namespace
}  // namespace tether::hub
