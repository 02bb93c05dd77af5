#include "protocol/monitoring.hpp"

#include <algorithm>
#include <string>

#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::protocol::monitoring {
namespace {

template <typename T, typename Read>
Result<T> decode_with(std::span<const std::uint8_t> body, const DecodeLimits& limits,
                      const char* typ, Read read) {
  return decode_schema<T>(body, limits, std::string("monitoring ") + typ, read);
}

}  // namespace

Bytes Status::encode() const {
  Writer writer;
  writer.map_header(6);
  writer.str("state");
  writer.str(state);
  writer.str("device_id");
  writer.str(device_id);
  writer.str("version");
  writer.str(version);
  writer.str("boot_id");
  writer.str(boot_id);
  writer.str("uptime_s");
  writer.uint64(uptime_s);
  writer.str("inventory");
  writer.value(inventory);
  return writer.take();
}

Result<Status> Status::decode(std::span<const std::uint8_t> body, const DecodeLimits& limits) {
  return decode_with<Status>(body, limits, kStatus, [](FieldReader& fields) {
    Status status;
    status.state = fields.str("state");
    if (status.state != kOnline && status.state != kShutdown && fields.status()) {
      fields.fail("state", not_one_of(status.state, {kOnline, kShutdown}));
    }
    status.device_id = fields.str("device_id");
    status.version = fields.str("version");
    status.boot_id = fields.str("boot_id");
    status.uptime_s = fields.uint("uptime_s");
    status.inventory = fields.map("inventory");
    return status;
  });
}

Bytes DataRecord::encode() const {
  Writer writer;
  writer.map_header(4);
  writer.str("seq");
  writer.uint64(seq);
  writer.str("ts");
  writer.int64(ts);
  writer.str("stream");
  writer.str(stream);
  writer.str("values");
  writer.value(values);
  return writer.take();
}

Result<DataRecord> DataRecord::decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits) {
  return decode_with<DataRecord>(body, limits, kData, [](FieldReader& fields) {
    DataRecord record;
    record.seq = fields.uint("seq");
    record.ts = fields.int64("ts");
    record.stream = fields.str("stream");
    record.values = fields.map("values");
    return record;
  });
}

Bytes AlertRecord::encode() const {
  Writer writer;
  writer.map_header(7);
  writer.str("seq");
  writer.uint64(seq);
  writer.str("ts");
  writer.int64(ts);
  writer.str("id");
  writer.str(id);
  writer.str("severity");
  writer.str(severity);
  writer.str("state");
  writer.str(state);
  writer.str("summary");
  writer.str(summary);
  writer.str("details");
  writer.value(details);
  return writer.take();
}

Result<AlertRecord> AlertRecord::decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits) {
  return decode_with<AlertRecord>(body, limits, kAlert, [](FieldReader& fields) {
    AlertRecord record;
    record.seq = fields.uint("seq");
    record.ts = fields.int64("ts");
    record.id = fields.str("id");
    record.severity = fields.str("severity");
    if (fields.status() &&
        std::find(kSeverities.begin(), kSeverities.end(), record.severity) == kSeverities.end()) {
      fields.fail("severity",
                  not_one_of(record.severity, {"critical", "major", "minor", "warning", "info"}));
    }
    record.state = fields.str("state");
    if (fields.status() && record.state != kRaised && record.state != kCleared) {
      fields.fail("state", not_one_of(record.state, {kRaised, kCleared}));
    }
    record.summary = fields.str("summary");
    record.details = fields.map("details");
    return record;
  });
}

Bytes DroppedRecord::encode() const {
  Writer writer;
  writer.map_header(5);
  writer.str("seq");
  writer.uint64(seq);
  writer.str("ts");
  writer.int64(ts);
  writer.str("first");
  writer.uint64(first);
  writer.str("last");
  writer.uint64(last);
  writer.str("count");
  writer.uint64(count);
  return writer.take();
}

Result<DroppedRecord> DroppedRecord::decode(std::span<const std::uint8_t> body,
                                            const DecodeLimits& limits) {
  return decode_with<DroppedRecord>(body, limits, kDropped, [](FieldReader& fields) {
    DroppedRecord record;
    record.seq = fields.uint("seq");
    record.ts = fields.int64("ts");
    record.first = fields.uint("first");
    record.last = fields.uint("last");
    record.count = fields.uint("count");
    return record;
  });
}

Bytes Ack::encode() const {
  Writer writer;
  writer.map_header(1);
  writer.str("seq");
  writer.uint64(seq);
  return writer.take();
}

Result<Ack> Ack::decode(std::span<const std::uint8_t> body, const DecodeLimits& limits) {
  return decode_with<Ack>(body, limits, kAck, [](FieldReader& fields) {
    Ack ack;
    ack.seq = fields.uint("seq");
    return ack;
  });
}

}  // namespace tether::protocol::monitoring
