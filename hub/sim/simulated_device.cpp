#include "hub/sim/simulated_device.hpp"

#include <algorithm>
#include <utility>

#include "protocol/command.hpp"
#include "protocol/config.hpp"
#include "protocol/control.hpp"
#include "protocol/monitoring.hpp"
#include "protocol/shell.hpp"

namespace tether::sim {

namespace {

namespace pm = protocol::monitoring;
namespace pc = protocol::command;
namespace ps = protocol::shell;
using protocol::Bytes;
using protocol::Map;
using protocol::Value;

// The daemon's command plugin remembers at least this many request ids (wire.md 5.4).
constexpr std::size_t kRememberedIds = 1024;
// Results waiting for an ack, at most; the oldest is forgotten past it.
constexpr std::size_t kMaxUnackedResults = 1024;

std::string hex64(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = kDigits[v & 0xF];
    v >>= 4;
  }
  return s;
}

Bytes shell_reply(std::string_view typ, const std::string& sid, std::int64_t status,
                  Bytes body = {}) {
  return protocol::encode(protocol::make_msg(protocol::proto::kShell, std::string(typ), sid,
                                             Map{{std::string(ps::prop::kStatus), Value(status)}},
                                             std::move(body)));
}

Bytes text(std::string_view s) {
  return {s.begin(), s.end()};
}

}  // namespace

SimulatedDevice::SimulatedDevice(std::string id, const DeviceBehaviour& behaviour,
                                 std::uint64_t boot_seed)
    : id_(std::move(id)), behaviour_(behaviour), boot_id_(hex64(boot_seed) + hex64(~boot_seed)) {
  if (behaviour_.window == 0) behaviour_.window = 1;
}

void SimulatedDevice::connected(std::int64_t now_ms, std::vector<Bytes>& out) {
  online_ = true;
  if (boot_ms_ == 0) boot_ms_ = now_ms;
  pm::Status status;
  status.state = pm::kOnline;
  status.device_id = id_;
  status.version = behaviour_.version;
  status.boot_id = boot_id_;
  status.uptime_s = static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ms - boot_ms_) / 1000);
  status.inventory = Map{{"simulated", Value(true)}};
  out.push_back(protocol::encode(
      protocol::make_msg(protocol::proto::kMonitoring, pm::kStatus, {}, {}, status.encode())));
  out.push_back(protocol::encode(protocol::make_msg(
      protocol::proto::kConfig, protocol::config::kCurrent, {}, {}, config_current())));
  pc::Targets targets;
  targets.targets = {"sim"};
  out.push_back(protocol::encode(
      protocol::make_msg(protocol::proto::kCommand, pc::kTargets, {}, {}, targets.encode())));
  for (const auto& r : unacked_results_) out.push_back(r.encoded);
  sent_ = acked_;
  send_records(out);
}

void SimulatedDevice::disconnected() {
  online_ = false;
  shells_.clear();
  sent_ = acked_;
}

void SimulatedDevice::make_records(std::size_t n, std::int64_t now_ms, std::vector<Bytes>& out) {
  for (std::size_t i = 0; i < n; ++i) {
    if (unacked_ts_.size() >= behaviour_.max_unacked) {
      counters_.records_skipped += n - i;
      break;
    }
    unacked_ts_.push_back(now_ms);
    ++next_seq_;
    ++counters_.records_made;
  }
  if (online_) send_records(out);
}

void SimulatedDevice::send_records(std::vector<Bytes>& out) {
  const std::uint64_t last = next_seq_ - 1;
  while (sent_ < last && sent_ - acked_ < behaviour_.window) {
    const std::uint64_t seq = sent_ + 1;
    pm::DataRecord record;
    record.seq = seq;
    record.ts = unacked_ts_[static_cast<std::size_t>(seq - acked_ - 1)];
    record.stream = "sim";
    record.values =
        Map{{"n", Value(seq)}, {"temp", Value(20.0 + static_cast<double>(seq % 50) / 10)}};
    out.push_back(protocol::encode(
        protocol::make_msg(protocol::proto::kMonitoring, pm::kData, {}, {}, record.encode())));
    sent_ = seq;
    ++counters_.records_sent;
  }
}

void SimulatedDevice::message(std::span<const std::uint8_t> encoded, std::int64_t now_ms,
                              std::vector<Bytes>& out) {
  auto msg = protocol::decode(encoded);
  if (!msg.ok()) {
    ++counters_.bad_messages;
    protocol::ControlError error;
    error.err = "malformed message: " + msg.error().message();
    out.push_back(protocol::encode(protocol::make_msg(
        protocol::proto::kControl, protocol::control::kError, {}, {}, error.encode())));
    return;
  }
  switch (msg->hdr.proto) {
    case protocol::proto::kMonitoring:
      on_monitoring(*msg);
      if (online_) send_records(out);
      return;
    case protocol::proto::kShell:
      on_shell(*msg, out);
      return;
    case protocol::proto::kConfig:
      on_config(*msg, out);
      return;
    case protocol::proto::kCommand:
      on_command(*msg, now_ms, out);
      return;
    case protocol::proto::kControl:
      on_control(*msg, out);
      return;
    default:
      refuse(*msg, "unknown protocol", out);
      return;
  }
}

void SimulatedDevice::on_monitoring(const protocol::ProtoMsg& msg) {
  if (msg.hdr.typ != pm::kAck) {
    ++counters_.bad_messages;
    return;
  }
  auto ack = pm::Ack::decode(msg.body);
  // An ack beyond what was made is the backend's bug; it cannot make us forget
  // records we never sent.
  if (!ack.ok() || ack->seq > next_seq_ - 1) {
    ++counters_.bad_messages;
    return;
  }
  ++counters_.acks;
  while (acked_ < ack->seq) {
    unacked_ts_.pop_front();
    ++acked_;
  }
  sent_ = std::max(sent_, acked_);
}

void SimulatedDevice::on_shell(const protocol::ProtoMsg& msg, std::vector<Bytes>& out) {
  const std::string& sid = msg.hdr.sid;
  const std::string_view typ = msg.hdr.typ;
  if (typ == ps::typ::kNew) {
    if (sid.empty() || shells_.contains(sid) || shells_.size() >= behaviour_.max_shells) {
      out.push_back(
          shell_reply(ps::typ::kNew, sid, ps::status::kError, text("cannot start another shell")));
      return;
    }
    shells_.insert(sid);
    out.push_back(shell_reply(ps::typ::kNew, sid, ps::status::kNormal));
    return;
  }
  if (typ == ps::typ::kStop && sid.empty()) {
    for (const auto& s : shells_)
      out.push_back(shell_reply(ps::typ::kStop, s, ps::status::kNormal));
    shells_.clear();
    return;
  }
  if (typ == ps::typ::kShell || typ == ps::typ::kResize || typ == ps::typ::kStop) {
    if (!shells_.contains(sid)) {
      out.push_back(shell_reply(typ, sid, ps::status::kError, text("session not found")));
      return;
    }
    if (typ == ps::typ::kShell) {
      counters_.shell_bytes_echoed += msg.body.size();
      out.push_back(shell_reply(ps::typ::kShell, sid, ps::status::kNormal, msg.body));
    } else if (typ == ps::typ::kStop) {
      shells_.erase(sid);
      out.push_back(shell_reply(ps::typ::kStop, sid, ps::status::kNormal));
    }
    return;
  }
  if (typ == ps::typ::kPong) return;
  refuse(msg, "unknown message type", out);
}

Bytes SimulatedDevice::config_current() const {
  protocol::ConfigCurrent current;
  current.version = config_version_;
  current.values = config_values_;
  return current.encode();
}

void SimulatedDevice::on_config(const protocol::ProtoMsg& msg, std::vector<Bytes>& out) {
  namespace cfg = protocol::config;
  if (msg.hdr.typ == cfg::kGet) {
    out.push_back(protocol::encode(
        protocol::make_msg(protocol::proto::kConfig, cfg::kCurrent, {}, {}, config_current())));
    return;
  }
  if (msg.hdr.typ != cfg::kSet) {
    refuse(msg, "unknown message type", out);
    return;
  }
  auto set = protocol::ConfigSet::decode(msg.body);
  if (!set.ok()) {
    protocol::ConfigError error;
    error.err = set.error().message();
    out.push_back(protocol::encode(
        protocol::make_msg(protocol::proto::kConfig, cfg::kError, {}, {}, error.encode())));
    return;
  }
  if (set->version > config_version_) {
    if (set->replace.value_or(false)) config_values_.clear();
    for (auto& entry : set->values) {
      const std::string& key = entry.first;
      const protocol::Value& value = entry.second;
      auto it = std::find_if(config_values_.begin(), config_values_.end(),
                             [&key](const auto& kv) { return kv.first == key; });
      if (value.is_nil()) {
        if (it != config_values_.end()) config_values_.erase(it);
      } else if (it != config_values_.end()) {
        it->second = value;
      } else {
        config_values_.emplace_back(key, value);
      }
    }
    config_version_ = set->version;
    ++counters_.configs_applied;
  }
  protocol::ConfigApplied applied;
  applied.version = config_version_;
  out.push_back(protocol::encode(
      protocol::make_msg(protocol::proto::kConfig, cfg::kApplied, {}, {}, applied.encode())));
}

void SimulatedDevice::on_command(const protocol::ProtoMsg& msg, std::int64_t now_ms,
                                 std::vector<Bytes>& out) {
  if (msg.hdr.typ == pc::kAck) {
    auto ack = pc::Ack::decode(msg.body);
    if (!ack.ok()) {
      ++counters_.bad_messages;
      return;
    }
    std::erase_if(unacked_results_, [&](const StoredResult& r) { return r.id == ack->id; });
    return;
  }
  if (msg.hdr.typ != pc::kRequest) {
    refuse(msg, "unknown message type", out);
    return;
  }
  auto request = pc::Request::decode(msg.body);
  pc::ResultBody result;
  result.ts = now_ms;
  if (!request.ok()) {
    auto id = pc::peek_id(msg.body);
    if (!id) {
      ++counters_.bad_messages;
      return;
    }
    result.id = *id;
    result.status = pc::kInvalid;
    result.err = request.error().message();
  } else {
    result.id = request->id;
    if (seen_ids_.contains(request->id)) {
      for (const auto& r : unacked_results_) {
        if (r.id == request->id) out.push_back(r.encoded);
      }
      return;
    }
    if (request->target == "sim") {
      result.status = pc::kOk;
      result.ret = Map{{"action", Value(request->action)}};
    } else {
      result.status = pc::kNoTarget;
    }
  }
  seen_ids_.insert(result.id);
  seen_order_.push_back(result.id);
  if (seen_order_.size() > kRememberedIds) {
    seen_ids_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  Bytes encoded = protocol::encode(
      protocol::make_msg(protocol::proto::kCommand, pc::kResult, {}, {}, result.encode()));
  out.push_back(encoded);
  ++counters_.command_results;
  if (unacked_results_.size() >= kMaxUnackedResults)
    unacked_results_.erase(unacked_results_.begin());
  unacked_results_.push_back({result.id, std::move(encoded)});
}

void SimulatedDevice::on_control(const protocol::ProtoMsg& msg, std::vector<Bytes>& out) {
  namespace ctl = protocol::control;
  if (msg.hdr.typ == ctl::kPing) {
    out.push_back(
        protocol::encode(protocol::make_msg(protocol::proto::kControl, ctl::kPong, msg.hdr.sid)));
    return;
  }
  if (msg.hdr.typ == ctl::kPong || msg.hdr.typ == ctl::kClose) return;
  if (msg.hdr.typ == ctl::kError) {
    ++counters_.errors_received;
    return;
  }
  if (msg.hdr.typ == ctl::kOpen) {
    // No routed protocol (file transfer, port forward) is simulated.
    protocol::ControlError error;
    error.err = "the simulator opens no routed sessions";
    error.close = true;
    out.push_back(protocol::encode(protocol::make_msg(protocol::proto::kControl, ctl::kError,
                                                      msg.hdr.sid, {}, error.encode())));
    return;
  }
  refuse(msg, "unknown message type", out);
}

void SimulatedDevice::refuse(const protocol::ProtoMsg& msg, const std::string& why,
                             std::vector<Bytes>& out) {
  ++counters_.bad_messages;
  protocol::ControlError error;
  error.err = why;
  error.close = false;
  error.msgproto = msg.hdr.proto;
  if (!msg.hdr.typ.empty()) error.msgtype = msg.hdr.typ;
  out.push_back(protocol::encode(protocol::make_msg(
      protocol::proto::kControl, protocol::control::kError, msg.hdr.sid, {}, error.encode())));
}

}  // namespace tether::sim
