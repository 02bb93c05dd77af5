#include "hub/services/monitoring_intake.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "hub/devices/device_side.hpp"
#include "hub/loop_inbox.hpp"
#include "hub/services/control_messages.hpp"
#include "hub/services/monitoring_api.hpp"
#include "hub/services/monitoring_json.hpp"
#include "hub/store/monitoring_store.hpp"
#include "hub/store/store.hpp"
#include "protocol/monitoring.hpp"

namespace tether::hub {

namespace {

namespace proto = protocol::proto;
namespace monitoring = protocol::monitoring;

// What the device registry keeps of a device-supplied string.
constexpr std::size_t kMaxStoredText = 256;

std::string clip(const std::string& s) {
  return s.substr(0, kMaxStoredText);
}

constexpr auto kMaxSeq = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

Error too_big(const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "monitoring record: " + what);
}

// The record in the store's words, or why it may not be stored.
Result<MonitoringRecord> to_record(const protocol::ProtoMsg& msg) {
  using Intake = MonitoringIntake;
  MonitoringRecord r;
  const std::string& typ = msg.hdr.typ;
  if (typ == monitoring::kData) {
    auto d = monitoring::DataRecord::decode(msg.body);
    if (!d.ok()) return d.error();
    if (d->stream.empty() || d->stream.size() > Intake::kMaxName) {
      return too_big("stream must be 1.." + std::to_string(Intake::kMaxName) + " bytes");
    }
    if (d->values.size() > Intake::kMaxFields) {
      return too_big("more than " + std::to_string(Intake::kMaxFields) + " values");
    }
    r.seq = d->seq;
    r.ts = d->ts;
    r.kind = RecordKind::kData;
    r.stream = d->stream;
    r.body_json = map_json(d->values);
  } else if (typ == monitoring::kAlert) {
    auto a = monitoring::AlertRecord::decode(msg.body);
    if (!a.ok()) return a.error();
    if (a->id.empty() || a->id.size() > Intake::kMaxName) {
      return too_big("id must be 1.." + std::to_string(Intake::kMaxName) + " bytes");
    }
    if (std::find(monitoring::kSeverities.begin(), monitoring::kSeverities.end(), a->severity) ==
        monitoring::kSeverities.end()) {
      return Error(ErrorCode::kInvalidArgument, "monitoring alert: unknown severity");
    }
    if (a->state != monitoring::kRaised && a->state != monitoring::kCleared) {
      return Error(ErrorCode::kInvalidArgument, "monitoring alert: unknown state");
    }
    if (a->summary.size() > Intake::kMaxSummary) {
      return too_big("summary over " + std::to_string(Intake::kMaxSummary) + " bytes");
    }
    if (a->details.size() > Intake::kMaxFields) {
      return too_big("more than " + std::to_string(Intake::kMaxFields) + " details");
    }
    r.seq = a->seq;
    r.ts = a->ts;
    r.kind = RecordKind::kAlert;
    r.stream = a->id;
    r.severity = a->severity;
    r.alert_state = a->state;
    r.summary = a->summary;
    r.body_json = map_json(a->details);
  } else {
    auto d = monitoring::DroppedRecord::decode(msg.body);
    if (!d.ok()) return d.error();
    r.seq = d->seq;
    r.ts = d->ts;
    r.kind = RecordKind::kDropped;
    r.body_json = "{\"first\":" + std::to_string(d->first) +
                  ",\"last\":" + std::to_string(d->last) +
                  ",\"count\":" + std::to_string(d->count) + "}";
  }
  if (r.seq > kMaxSeq) return too_big("seq beyond 2^63-1");
  if (r.body_json.size() > MonitoringIntake::kMaxBodyJson) {
    return too_big("over " + std::to_string(MonitoringIntake::kMaxBodyJson) + " bytes stored");
  }
  return r;
}

}  // namespace

MonitoringIntake::MonitoringIntake(ServiceContext context)
    : context_(context),
      api_(std::make_unique<MonitoringApi>(context)),
      self_(std::make_shared<MonitoringIntake*>(this)) {}

MonitoringIntake::~MonitoringIntake() {
  *self_ = nullptr;
}

ApiHandler* MonitoringIntake::api() {
  return api_.get();
}

void MonitoringIntake::on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  const std::string& t = msg.hdr.typ;
  if (t == monitoring::kStatus) {
    record_status(device_id, msg);
  } else if (t == monitoring::kData || t == monitoring::kAlert || t == monitoring::kDropped) {
    store_record(device_id, msg);
  } else {
    (void)context_.devices.send(
        device_id, control_error("unknown monitoring typ '" + t + "'", false, &msg.hdr), true);
  }
}

void MonitoringIntake::on_device_online(const std::string& device_id) {
  devices_[device_id].online = true;
  context_.monitoring.record_presence(device_id, PresenceEvent{now_ms(), "online", ""});
}

void MonitoringIntake::on_device_offline(const std::string& device_id) {
  context_.monitoring.record_presence(device_id, PresenceEvent{now_ms(), "offline", ""});
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return;
  if (it->second.uncommitted == 0) {
    devices_.erase(it);
  } else {
    // Commits still to come find the entry; the next link starts its acks afresh.
    it->second.online = false;
    it->second.acked = 0;
    it->second.paused = false;
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
  if (status->uptime_s <= kMaxSeq) update.uptime_s = static_cast<std::int64_t>(status->uptime_s);
  const std::int64_t now = now_ms();
  context_.store.record_status(device_id, update, now);

  DeviceStatusRecord record;
  record.state = update.state;
  record.version = update.version;
  record.boot_id = update.boot_id;
  record.uptime_s = update.uptime_s;
  record.inventory_json = map_json(status->inventory);
  if (record.inventory_json.size() > kMaxInventoryJson) {
    context_.log.info("device " + device_id + ": inventory over " +
                      std::to_string(kMaxInventoryJson) + " bytes, not kept");
    record.inventory_json = "{}";
  }
  record.at_ms = now;
  context_.monitoring.record_status(device_id, record);
  if (update.state == monitoring::kShutdown) {
    context_.monitoring.record_presence(device_id, PresenceEvent{now, "shutdown", ""});
  }
}

void MonitoringIntake::store_record(const std::string& device_id, const protocol::ProtoMsg& msg) {
  auto record = to_record(msg);
  if (!record.ok()) {
    refuse(device_id, msg, record.error());
    return;
  }
  DeviceState& state = devices_[device_id];
  state.online = true;  // it is sending on a link
  ++state.uncommitted;
  if (!state.paused && state.uncommitted > kMaxUncommitted) {
    state.paused = true;
    context_.devices.set_receiving(device_id, false);
  }
  const std::uint64_t seq = record->seq;
  std::vector<MonitoringRecord> records;
  records.push_back(std::move(*record));
  // The completion runs on the store's writer thread: hop to the loop.
  LoopInbox& inbox = context_.inbox;
  std::weak_ptr<MonitoringIntake*> self = self_;
  context_.monitoring.append(device_id, std::move(records),
                             [&inbox, self, device_id, seq](const Status& status) {
                               inbox.post([self, device_id, seq, status] {
                                 if (auto alive = self.lock(); alive && *alive) {
                                   (*alive)->committed(device_id, seq, 1, status);
                                 }
                               });
                             });
}

void MonitoringIntake::committed(const std::string& device_id, std::uint64_t seq, std::size_t n,
                                 const Status& status) {
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return;
  DeviceState& state = it->second;
  state.uncommitted -= std::min(n, state.uncommitted);
  if (state.paused && state.uncommitted <= kResumeUncommitted) {
    state.paused = false;
    context_.devices.set_receiving(device_id, true);
  }
  if (!status.ok()) {
    // Not acked: the device keeps the record and sends it again after a reconnect.
    context_.log.error(status.error().wrap("storing records of " + device_id).message());
  } else if (state.online) {
    // Acks are cumulative: one per device per round of completions is enough (a
    // batch commits hundreds of a device's records at once), sent by flush_acks()
    // after every completion of this round has run.
    state.acked = std::max(state.acked, seq);
    if (!state.ack_due) {
      state.ack_due = true;
      ack_due_.push_back(device_id);
    }
    if (!ack_flush_posted_) {
      ack_flush_posted_ = true;
      std::weak_ptr<MonitoringIntake*> self = self_;
      context_.inbox.post([self] {
        if (auto alive = self.lock(); alive && *alive) (*alive)->flush_acks();
      });
    }
  }
  if (!state.online && state.uncommitted == 0) devices_.erase(it);
}

void MonitoringIntake::flush_acks() {
  ack_flush_posted_ = false;
  for (const std::string& device_id : std::exchange(ack_due_, {})) {
    auto it = devices_.find(device_id);
    if (it == devices_.end() || !it->second.ack_due) continue;
    it->second.ack_due = false;
    if (!it->second.online) continue;
    const monitoring::Ack ack{it->second.acked};
    (void)context_.devices.send(
        device_id, protocol::make_msg(proto::kMonitoring, monitoring::kAck, {}, {}, ack.encode()),
        true);
  }
}

void MonitoringIntake::refuse(const std::string& device_id, const protocol::ProtoMsg& msg,
                              const Error& error) {
  context_.log.debug("device " + device_id + ": " + error.message());
  (void)context_.devices.send(device_id, control_error(error.message(), false, &msg.hdr), true);
}

}  // namespace tether::hub
