// One simulated gateway: what tetherd and its plugins would say on the wire
// (wire.md), without a PTY, a D-Bus or a disk. Transport-free: the fleet
// (fleet.hpp) hands it the decoded side of one WebSocket and sends what it queues.
//
//   monitoring  `status` online after every connect; `data` records with one seq
//               space that survives reconnects, at most `window` unacknowledged
//               in flight, all unacknowledged ones re-sent after a reconnect
//   shell       a fake shell per `sid` that echoes every keystroke back (proto 1)
//   config      `current` after every connect, `applied` for every `set`
//   command     `targets` after every connect, an `ok` result per request id,
//               re-sent after every connect until the backend's `ack`
//   control     `pong` for `ping`, `error` for what it does not speak
//
// Records live in memory only: a restart of the simulator starts a new seq space,
// which the hub sees as a device that was reinstalled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "protocol/message.hpp"
#include "protocol/value.hpp"

namespace tether::sim {

struct DeviceBehaviour {
  std::string version = "sim-1";
  // Records sent and not yet acknowledged, at most (the daemon's monitoring.window).
  std::size_t window = 256;
  // Records made and not yet acknowledged, at most; past it new ones are not made
  // (and counted in `records_skipped`), so a hub that never acks cannot grow us.
  std::size_t max_unacked = 100000;
  // Open fake shells per device.
  std::size_t max_shells = 16;
};

struct DeviceCounters {
  std::uint64_t records_made = 0;
  std::uint64_t records_sent = 0;  // re-sends included
  std::uint64_t records_skipped = 0;
  std::uint64_t acks = 0;
  std::uint64_t shell_bytes_echoed = 0;
  std::uint64_t configs_applied = 0;
  std::uint64_t command_results = 0;
  std::uint64_t errors_received = 0;  // control errors from the backend
  std::uint64_t bad_messages = 0;     // what we could not decode or did not know
};

class SimulatedDevice {
 public:
  SimulatedDevice(std::string id, const DeviceBehaviour& behaviour, std::uint64_t boot_seed);

  const std::string& id() const { return id_; }

  // The link is up: status, config, targets, unacknowledged results and records.
  // Encoded ProtoMsgs are appended to `out` in the order they must go.
  void connected(std::int64_t now_ms, std::vector<protocol::Bytes>& out);
  // The link is gone: nothing is in flight any more (re-sent on the next connect).
  void disconnected();
  // One message from the backend.
  void message(std::span<const std::uint8_t> encoded, std::int64_t now_ms,
               std::vector<protocol::Bytes>& out);
  // Makes `n` new records (sent now when online and the window allows).
  void make_records(std::size_t n, std::int64_t now_ms, std::vector<protocol::Bytes>& out);

  // The highest seq made and the highest acknowledged by the backend.
  std::uint64_t last_seq() const { return next_seq_ - 1; }
  std::uint64_t acked_seq() const { return acked_; }
  bool online() const { return online_; }
  const DeviceCounters& counters() const { return counters_; }

 private:
  void send_records(std::vector<protocol::Bytes>& out);
  void on_monitoring(const protocol::ProtoMsg& msg);
  void on_shell(const protocol::ProtoMsg& msg, std::vector<protocol::Bytes>& out);
  void on_config(const protocol::ProtoMsg& msg, std::vector<protocol::Bytes>& out);
  void on_command(const protocol::ProtoMsg& msg, std::int64_t now_ms,
                  std::vector<protocol::Bytes>& out);
  void on_control(const protocol::ProtoMsg& msg, std::vector<protocol::Bytes>& out);
  void refuse(const protocol::ProtoMsg& msg, const std::string& why,
              std::vector<protocol::Bytes>& out);
  protocol::Bytes config_current() const;

  std::string id_;
  DeviceBehaviour behaviour_;
  std::string boot_id_;
  std::int64_t boot_ms_ = 0;
  bool online_ = false;

  // Records: seqs (acked_, next_seq_) are made and unacknowledged; their
  // timestamps are kept in `unacked_ts_` (front = acked_ + 1). sent_ is the
  // highest seq sent on the current link.
  std::uint64_t next_seq_ = 1;
  std::uint64_t acked_ = 0;
  std::uint64_t sent_ = 0;
  std::deque<std::int64_t> unacked_ts_;

  std::set<std::string> shells_;

  std::uint64_t config_version_ = 0;
  protocol::Map config_values_;

  // Command results stored until acked, and the ids seen (at most kRememberedIds).
  struct StoredResult {
    std::string id;
    protocol::Bytes encoded;
  };
  std::vector<StoredResult> unacked_results_;
  std::deque<std::string> seen_order_;
  std::set<std::string> seen_ids_;

  DeviceCounters counters_;
};

}  // namespace tether::sim
