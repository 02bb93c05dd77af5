// Monitoring bodies (wire.md section 5.1).
#include "protocol/monitoring.hpp"

#include <gtest/gtest.h>

#include "tests/unit/protocol/schema_checks.hpp"

namespace tether::protocol::monitoring {
namespace {

using testing::check_schema;
using testing::decode_error;
using testing::with;

Map valid_status() {
  return {{"state", "online"},  {"device_id", "dev-1"},
          {"version", "1.2.3"}, {"boot_id", "b-42"},
          {"uptime_s", 3600},   {"inventory", Map{{"os", "debian"}, {"cpus", 4}}}};
}

Map valid_alert() {
  return {{"seq", 7},
          {"ts", std::int64_t{1700000000123}},
          {"id", "disk-full"},
          {"severity", "major"},
          {"state", "raised"},
          {"summary", "disk / is 95% full"},
          {"details", Map{{"used", 95}}}};
}

TEST(Monitoring, StatusSchema) {
  check_schema<Status>(valid_status(), {});
}

TEST(Monitoring, DataSchema) {
  check_schema<DataRecord>(Map{{"seq", 1},
                               {"ts", std::int64_t{-5}},
                               {"stream", "temp"},
                               {"values", Map{{"c", 21.5}, {"ok", true}}}},
                           {});
}

TEST(Monitoring, AlertSchema) {
  check_schema<AlertRecord>(valid_alert(), {});
}

TEST(Monitoring, DroppedSchema) {
  check_schema<DroppedRecord>(Map{{"seq", 10}, {"ts", 1}, {"first", 3}, {"last", 9}, {"count", 7}},
                              {});
}

TEST(Monitoring, AckSchema) {
  check_schema<Ack>(Map{{"seq", 99}}, {});
}

TEST(Monitoring, RoundTrips) {
  DataRecord data{std::uint64_t{1} << 40, -1, "s", Map{{"v", Array{1, 2}}}};
  Result<DataRecord> data_back = DataRecord::decode(data.encode());
  ASSERT_TRUE(data_back.ok());
  EXPECT_EQ(*data_back, data);

  AlertRecord alert{3, 4, "id", "info", "cleared", "sum", Map{}};
  Result<AlertRecord> alert_back = AlertRecord::decode(alert.encode());
  ASSERT_TRUE(alert_back.ok());
  EXPECT_EQ(*alert_back, alert);

  Status status{"shutdown", "d", "v", "b", 0, Map{}};
  Result<Status> status_back = Status::decode(status.encode());
  ASSERT_TRUE(status_back.ok());
  EXPECT_EQ(*status_back, status);

  DroppedRecord dropped{5, 6, 1, 4, 4};
  Result<DroppedRecord> dropped_back = DroppedRecord::decode(dropped.encode());
  ASSERT_TRUE(dropped_back.ok());
  EXPECT_EQ(*dropped_back, dropped);
}

TEST(Monitoring, EncodesInTableOrderWithCompactInts) {
  // {seq: 1}
  EXPECT_EQ(testing::to_hex(Ack{1}.encode()), "81a373657101");
  // {seq:1, ts:-1, first:2, last:3, count:2}
  EXPECT_EQ(testing::to_hex(DroppedRecord{1, -1, 2, 3, 2}.encode()),
            "85a373657101a27473ffa5666972737402a46c61737403a5636f756e7402");
}

TEST(Monitoring, EverySeverityAndStateIsAccepted) {
  for (std::string_view severity : kSeverities) {
    EXPECT_TRUE(AlertRecord::decode(
                    encode_value(Value(with(valid_alert(), "severity", std::string(severity)))))
                    .ok())
        << severity;
  }
  EXPECT_TRUE(
      AlertRecord::decode(encode_value(Value(with(valid_alert(), "state", "cleared")))).ok());
  EXPECT_TRUE(Status::decode(encode_value(Value(with(valid_status(), "state", "shutdown")))).ok());
}

TEST(Monitoring, EnumsAreValidated) {
  EXPECT_EQ(decode_error<AlertRecord>(with(valid_alert(), "severity", "loud")),
            "monitoring alert: severity: \"loud\" is not one of critical major minor warning info");
  EXPECT_EQ(decode_error<AlertRecord>(with(valid_alert(), "state", "Raised")),
            "monitoring alert: state: \"Raised\" is not one of raised cleared");
  EXPECT_EQ(decode_error<Status>(with(valid_status(), "state", "offline")),
            "monitoring status: state: \"offline\" is not one of online shutdown");
}

TEST(Monitoring, NegativeUnsignedFieldsAreRefused) {
  EXPECT_EQ(decode_error<Ack>(Map{{"seq", -1}}),
            "monitoring ack: seq: expected an unsigned integer, got negative int -1");
}

}  // namespace
}  // namespace tether::protocol::monitoring
