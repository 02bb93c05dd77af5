#include "hub/services/monitoring_intake.hpp"

#include <cstdint>
#include <limits>

#include "hub/devices/device_side.hpp"
#include "hub/services/control_messages.hpp"
#include "hub/store/store.hpp"
#include "protocol/monitoring.hpp"

namespace tether::hub {

namespace {

namespace proto = protocol::proto;
namespace monitoring = protocol::monitoring;

// What the store keeps of a device-supplied string.
constexpr std::size_t kMaxStoredText = 256;

std::string clip(const std::string& s) {
  return s.substr(0, kMaxStoredText);
}

}  // namespace

void MonitoringIntake::on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  const std::string& t = msg.hdr.typ;
  if (t == monitoring::kStatus) {
    record_status(device_id, msg);
  } else if (t == monitoring::kData || t == monitoring::kAlert || t == monitoring::kDropped) {
    acknowledge(device_id, msg);
  } else {
    (void)context_.devices.send(
        device_id, control_error("unknown monitoring typ '" + t + "'", false, &msg.hdr), true);
  }
}

void MonitoringIntake::record_status(const std::string& device_id, const protocol::ProtoMsg& msg) {
  auto status = monitoring::Status::decode(msg.body);
  if (!status.ok()) {
    refuse(device_id, msg, status.error());
    return;
  }
  if (!status->device_id.empty() && status->device_id != device_id) {
    context_.log.info("device " + device_id + " reports device_id " + clip(status->device_id));
  }
  StatusUpdate update;
  update.version = clip(status->version);
  update.state = status->state;
  update.boot_id = clip(status->boot_id);
  if (status->uptime_s <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    update.uptime_s = static_cast<std::int64_t>(status->uptime_s);
  }
  context_.store.record_status(device_id, update, now_ms());
}

void MonitoringIntake::acknowledge(const std::string& device_id, const protocol::ProtoMsg& msg) {
  // ack is cumulative and records arrive in seq order, so acking each is enough.
  Result<std::uint64_t> seq = Error(ErrorCode::kProtocol, "unreachable");
  if (msg.hdr.typ == monitoring::kData) {
    auto r = monitoring::DataRecord::decode(msg.body);
    seq = r.ok() ? Result<std::uint64_t>(r->seq) : Result<std::uint64_t>(r.error());
  } else if (msg.hdr.typ == monitoring::kAlert) {
    auto r = monitoring::AlertRecord::decode(msg.body);
    seq = r.ok() ? Result<std::uint64_t>(r->seq) : Result<std::uint64_t>(r.error());
  } else {
    auto r = monitoring::DroppedRecord::decode(msg.body);
    seq = r.ok() ? Result<std::uint64_t>(r->seq) : Result<std::uint64_t>(r.error());
  }
  if (!seq.ok()) {
    refuse(device_id, msg, seq.error());
    return;
  }
  const monitoring::Ack ack{*seq};
  (void)context_.devices.send(
      device_id, protocol::make_msg(proto::kMonitoring, monitoring::kAck, {}, {}, ack.encode()),
      true);
}

void MonitoringIntake::refuse(const std::string& device_id, const protocol::ProtoMsg& msg,
                              const Error& error) {
  context_.log.debug("device " + device_id + ": " + error.message());
  (void)context_.devices.send(device_id, control_error(error.message(), false, &msg.hdr), true);
}

}  // namespace tether::hub
