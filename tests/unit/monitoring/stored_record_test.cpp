// The stored form of a record and the seq stamped in when it is sent; inventory lines.
#include "plugins/monitoring/stored_record.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "plugins/monitoring/inventory.hpp"
#include "protocol/monitoring.hpp"

namespace tether::plugins::monitoring {
namespace {

namespace wire = protocol::monitoring;

TEST(StoredRecord, StampGivesTheRecordItsSeq) {
  wire::DataRecord data{.seq = 0, .ts = 1700000000000, .stream = "env", .values = {{"t", 1.5}}};
  const auto stored = stored_form(RecordKind::kData, data.encode());
  for (std::uint64_t seq : {std::uint64_t{1}, std::uint64_t{200}, std::uint64_t{70000},
                            std::numeric_limits<std::uint64_t>::max()}) {
    auto msg = stamp(stored, seq);
    ASSERT_TRUE(msg.has_value());
    EXPECT_EQ(msg->hdr.proto, 0x0010);
    EXPECT_EQ(msg->hdr.typ, "data");
    auto decoded = wire::DataRecord::decode(msg->body);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message();
    data.seq = seq;
    EXPECT_EQ(*decoded, data);
    EXPECT_LE(msg->body.size(), stored.size() + kStampGrowth);
    data.seq = 0;
  }
}

TEST(StoredRecord, AlertsAndMarkersKeepTheirTyp) {
  wire::AlertRecord alert{.seq = 0,
                          .ts = 1,
                          .id = "a",
                          .severity = "info",
                          .state = "raised",
                          .summary = "s",
                          .details = {}};
  auto msg = stamp(stored_form(RecordKind::kAlert, alert.encode()), 9);
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(msg->hdr.typ, "alert");
  EXPECT_EQ(wire::AlertRecord::decode(msg->body)->seq, 9u);
  wire::DroppedRecord dropped{.seq = 0, .ts = 1, .first = 1, .last = 4, .count = 4};
  msg = stamp(stored_form(RecordKind::kDropped, dropped.encode()), 5);
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(msg->hdr.typ, "dropped");
  EXPECT_EQ(wire::DroppedRecord::decode(msg->body)->first, 1u);
}

TEST(StoredRecord, DamagedRowsAreRefused) {
  wire::DataRecord data{.seq = 0, .ts = 1, .stream = "s", .values = {}};
  const auto good = stored_form(RecordKind::kData, data.encode());
  EXPECT_FALSE(stamp({}, 1).has_value());
  EXPECT_FALSE(stamp(protocol::Bytes(good.begin(), good.begin() + 4), 1).has_value());
  auto unknown_kind = good;
  unknown_kind[0] = 0x7f;
  EXPECT_FALSE(stamp(unknown_kind, 1).has_value());
  auto not_a_map = good;
  not_a_map[1] = 0xc0;
  EXPECT_FALSE(stamp(not_a_map, 1).has_value());
  auto seq_not_zero = good;
  seq_not_zero[6] = 0x05;
  EXPECT_FALSE(stamp(seq_not_zero, 1).has_value());
}

TEST(InventoryLines, KeyValueLinesRepeatedKeysAndJunk) {
  protocol::Map entries;
  add_inventory_lines("a=1\n\nno equals\n=empty key\nb=x=y\r\na=2\na=3\n", entries);
  EXPECT_EQ(entries, (protocol::Map{{"a", protocol::Array{"1", "2", "3"}}, {"b", "x=y"}}));
}

TEST(InventoryLines, BuiltInEntriesAreThere) {
  InventoryOptions options;
  options.directory = "/nonexistent/inventory.d";
  const auto inventory = collect_inventory(options);
  for (const char* key : {"os", "kernel", "hostname", "architecture"})
    EXPECT_NE(protocol::find(inventory.entries, key), nullptr) << key;
  EXPECT_TRUE(inventory.problems.empty());
  EXPECT_FALSE(read_boot_id().empty());
}

}  // namespace
}  // namespace tether::plugins::monitoring
