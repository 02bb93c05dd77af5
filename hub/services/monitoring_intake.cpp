#include "hub/services/monitoring_intake.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "hub/devices/device_side.hpp"
#include "hub/link.hpp"
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
      now_ms_([] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
      }),
      api_(std::make_unique<MonitoringApi>(context)),
      self_(std::make_shared<MonitoringIntake*>(this)) {
  LoopInbox& inbox = context_.inbox;
  std::weak_ptr<MonitoringIntake*> self = self_;
  mailbox_->post_task = [&inbox, self] {
    inbox.post([self] {
      if (auto alive = self.lock(); alive && *alive) (*alive)->take_commits();
    });
  };
}

MonitoringIntake::~MonitoringIntake() {
  *self_ = nullptr;
}

ApiHandler* MonitoringIntake::api() {
  return api_.get();
}

void MonitoringIntake::post(void (MonitoringIntake::*task)()) {
  std::weak_ptr<MonitoringIntake*> self = self_;
  context_.inbox.post([self, task] {
    if (auto alive = self.lock(); alive && *alive) ((*alive)->*task)();
  });
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
  DeviceState& state = devices_[device_id];
  state.id = device_id;
  state.online = true;
  state.store_failed = false;
  context_.monitoring.record_presence(device_id, PresenceEvent{now_ms(), "online", ""});
}

void MonitoringIntake::on_device_offline(const std::string& device_id) {
  context_.monitoring.record_presence(device_id, PresenceEvent{now_ms(), "offline", ""});
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return;
  if (it->second.uncommitted == 0 && !it->second.ack_due && !it->second.ack_held) {
    devices_.erase(it);
  } else {
    // Pending records still go to the store, commits still to come and a queued
    // ack flush or tick (ack_due_ and held_acks_ hold pointers to the entry) find
    // the entry; the next link starts its acks afresh.
    it->second.online = false;
    it->second.acked = 0;
    it->second.sent_ack = 0;
    it->second.sent_ack_ms = 0;
    it->second.paused = false;
    it->second.store_failed = false;
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
  if (state.id.empty()) state.id = device_id;
  state.online = true;  // it is sending on a link
  ++state.uncommitted;
  if (!state.paused && state.uncommitted > kMaxUncommitted) {
    state.paused = true;
    context_.devices.set_receiving(device_id, false);
  }
  state.pending.push_back(std::move(*record));
  if (!state.handover_due) {
    state.handover_due = true;
    handover_due_.push_back(&state);
  }
  if (!handover_posted_) {
    handover_posted_ = true;
    post(&MonitoringIntake::hand_over);
  }
}

void MonitoringIntake::hand_over() {
  handover_posted_ = false;
  std::shared_ptr<Mailbox> mailbox = mailbox_;
  for (DeviceState* state : std::exchange(handover_due_, {})) {
    state->handover_due = false;
    if (state->pending.empty()) continue;
    std::uint64_t seq = 0;
    for (const MonitoringRecord& r : state->pending) seq = std::max(seq, r.seq);
    const std::size_t n = state->pending.size();
    // The completion runs on the store's writer thread: it only updates the
    // device's line in the mailbox.
    context_.monitoring.append(
        state->id, std::exchange(state->pending, {}),
        [mailbox, state, seq, n](const Status& s) { note_commit(*mailbox, state, seq, n, s); });
  }
}

void MonitoringIntake::note_commit(Mailbox& mailbox, DeviceState* state, std::uint64_t seq,
                                   std::size_t n, const Status& status) {
  bool post = false;
  {
    std::lock_guard lock(mailbox.mutex);
    auto [where, added] = mailbox.lines.try_emplace(state, mailbox.commits.size());
    if (added) {
      mailbox.commits.push_back(Commit{state, seq, n, status});
    } else {
      // Batches commit in order: a failure anywhere stops the acks of this link,
      // so the line keeps the first one.
      Commit& line = mailbox.commits[where->second];
      line.seq = std::max(line.seq, seq);
      line.n += n;
      if (line.status.ok() && !status.ok()) line.status = status;
    }
    // Wakes the loop when the mailbox was empty.
    post = !std::exchange(mailbox.task_posted, true);
  }
  if (post) mailbox.post_task();
}

void MonitoringIntake::take_commits() {
  {
    std::lock_guard lock(mailbox_->mutex);
    taken_.swap(mailbox_->commits);
    mailbox_->lines.clear();
    mailbox_->task_posted = false;
  }
  for (const Commit& c : taken_) committed(*c.device, c.seq, c.n, c.status);
  taken_.clear();
  // The acks go out from a task of their own, queued behind whatever the loop
  // has queued by now (more completions, the next hand-over): one ack then covers
  // every commit of a device that came back meanwhile. An ack per commit batch
  // was ~1.4 times as many acks, each a write on both ends of the link.
  post_flush_acks();
}

void MonitoringIntake::post_flush_acks() {
  if (!ack_due_.empty() && !ack_flush_posted_) {
    ack_flush_posted_ = true;
    post(&MonitoringIntake::flush_acks);
  }
}

void MonitoringIntake::committed(DeviceState& state, std::uint64_t seq, std::size_t n,
                                 const Status& status) {
  state.uncommitted -= std::min(n, state.uncommitted);
  if (state.paused && state.uncommitted <= kResumeUncommitted) {
    state.paused = false;
    context_.devices.set_receiving(state.id, true);
  }
  if (!status.ok()) {
    context_.log.error(status.error().wrap("storing records of " + state.id).message());
    if (state.online && !state.store_failed) {
      state.store_failed = true;
      context_.devices.disconnect(state.id, close_code::kInternalError,
                                  "the hub could not store records; send them again");
    }
  } else if (state.online && !state.store_failed) {
    // Acks are cumulative: one per device per flush_acks() is enough.
    state.acked = std::max(state.acked, seq);
    if (!state.ack_due) {
      state.ack_due = true;
      ack_due_.push_back(&state);
    }
  }
  if (!state.online) forget_if_done(state);
}

void MonitoringIntake::flush_acks() {
  ack_flush_posted_ = false;
  const std::int64_t now = now_ms_();
  for (std::size_t handled = 0; handled < kAcksPerTask && !ack_due_.empty(); ++handled) {
    DeviceState* state = ack_due_.front();
    ack_due_.pop_front();
    state->ack_due = false;
    if (!state->online) {
      // Kept for this flush only (on_device_offline): nothing of it is left to do.
      forget_if_done(*state);
      continue;
    }
    // acked == 0: the link went and came back since the commit; its new link has
    // had nothing committed yet.
    if (state->store_failed || state->acked == 0 || state->ack_held) continue;
    // Not moved: a seq already acked came again; its ack goes at once.
    const bool moved = state->acked > state->sent_ack;
    if (moved && may_hold_ack(*state, now)) {
      state->ack_held = true;
      held_acks_.push_back(state);
      continue;
    }
    send_ack(*state, now);
  }
  // The rest after the sockets of this pass; the held acks once every due one is out.
  if (ack_due_.empty()) release_held_acks(now);
  post_flush_acks();
}

void MonitoringIntake::on_tick() {
  release_held_acks(now_ms_());
}

void MonitoringIntake::release_held_acks(std::int64_t now) {
  std::size_t kept = 0;
  for (DeviceState* state : held_acks_) {
    if (state->online && !state->store_failed && state->acked > state->sent_ack &&
        may_hold_ack(*state, now)) {
      held_acks_[kept++] = state;
      continue;
    }
    state->ack_held = false;
    // flush_acks() sends it (or forgets a gone device), kAcksPerTask at a time.
    if (!state->ack_due) {
      state->ack_due = true;
      ack_due_.push_back(state);
    }
  }
  held_acks_.resize(kept);
  post_flush_acks();
}

bool MonitoringIntake::may_hold_ack(const DeviceState& state, std::int64_t now) {
  return state.sent_ack_ms != 0 && now - state.sent_ack_ms < kAckIntervalMs &&
         state.acked - state.sent_ack < kAckAtOnce;
}

void MonitoringIntake::send_ack(DeviceState& state, std::int64_t now) {
  state.sent_ack = state.acked;
  // 0 means "none on this link": a clock at 0 still counts as having sent one.
  state.sent_ack_ms = now == 0 ? 1 : now;
  const monitoring::Ack ack{state.acked};
  (void)context_.devices.send(
      state.id, protocol::make_msg(proto::kMonitoring, monitoring::kAck, {}, {}, ack.encode()),
      true);
}

void MonitoringIntake::forget_if_done(DeviceState& state) {
  if (state.uncommitted == 0 && !state.ack_due && !state.ack_held) devices_.erase(state.id);
}

void MonitoringIntake::refuse(const std::string& device_id, const protocol::ProtoMsg& msg,
                              const Error& error) {
  context_.log.debug("device " + device_id + ": " + error.message());
  (void)context_.devices.send(device_id, control_error(error.message(), false, &msg.hdr), true);
}

}  // namespace tether::hub
