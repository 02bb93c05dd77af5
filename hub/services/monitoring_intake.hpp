// Monitoring intake (proto 0x0010, wire.md 5.1). The device's `status` is recorded
// (version, boot id, inventory) and its records (`data`, `alert`, `dropped`) are
// stored in the MonitoringStore. The cumulative `ack {seq:N}` goes out only from
// the completion of the store's commit that holds N: records reach the store in
// arrival order and batches commit in order, so when a batch is safe so is every
// record the device sent before. A seq already stored is not stored again and is
// acked all the same (the device re-sends unacked records after a reconnect).
//
// Per record, the hub's CPU is what limits ingest at fleet size (docs/performance.md
// "Fleet size"), so the work per record is batched where the contract allows:
// - records decoded in one pass of the loop wait in their device's entry and go to
//   the store together, one append (one completion) per device per pass;
// - completions, which the store runs on its writer thread, only update the
//   device's line in a mailbox (one line per device, however many of its appends
//   committed meanwhile); one loop task takes every line there is. The lines are
//   bounded by the devices, not by the commits: a loop that falls behind finds
//   fewer, fuller lines, where a line per commit, taken a share per pass, grew
//   faster than the loop took it and held the acks back for good (ingest at 10 000
//   devices fell from ~45 000 to ~15 000 records/s once it lagged, docs/performance.md);
// - acks go out from a task queued behind those, one cumulative ack per device for
//   every commit that came back meanwhile;
// - a device acked less than kAckIntervalMs ago has its next ack held until then,
//   unless kAckAtOnce records wait for it: a device sending a few records a second
//   gets one ack every two seconds instead of one per record, and each ack is a
//   message, a TLS record, writes on both ends and a delete in the device's flash
//   store (at 10 000 devices, 1 s instead of 2 s cost the loop 8 % more CPU and
//   put the operator's echo p99 over 50 ms at 50 000 records/s). A quiet device's record is
//   acked at once; a device replaying its backlog gets an ack every kAckAtOnce
//   records, well inside tetherd's window of 256. Held acks go out from the next
//   flush or on_tick() after they are due: each device on its own second, not all
//   of them on one tick (ten thousand acks at once held an operator's keystroke
//   for hundreds of ms);
// - a flush sends at most kAcksPerTask acks, then queues itself behind what the
//   loop has queued meanwhile: the store commits about once a second, and the
//   ten thousand acks of one commit, sent in one task (and written in the loop
//   pass after it), held an operator's keystroke for over 100 ms.
//
// Bounds on what one device can make the hub keep: a record's stream / alert id,
// summary, number of fields and encoded size are capped (kLimits below); a record
// over them, or with a body that does not decode, gets a control error and is not
// stored (a later ack covers its seq: the device is told, not silently ignored).
// Per stream, history is capped and aged out by the store (MonitoringRetention).
// A device whose records wait for commits past kMaxUncommitted is paused.
//
// A commit that fails (the database is down, the disk is full) is not acked, and
// nothing after it is acked on that link either, since acks are cumulative: the
// link is closed (1011) and the device, which keeps every unacknowledged record,
// sends them again when it reconnects. Records stored twice are not kept twice.
//
// Presence (online/offline times) comes from the device side's lease.
// Operators may not send monitoring messages. The JSON routes are in
// monitoring_api.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "hub/services/protocol_service.hpp"
#include "hub/store/monitoring_store.hpp"

namespace tether::hub {

class MonitoringApi;

class MonitoringIntake final : public ProtocolService {
 public:
  // What one record may carry to be stored.
  static constexpr std::size_t kMaxName = 128;        // stream, alert id
  static constexpr std::size_t kMaxSummary = 1024;    // alert summary
  static constexpr std::size_t kMaxFields = 64;       // entries of values / details
  static constexpr std::size_t kMaxBodyJson = 16384;  // the record as stored
  static constexpr std::size_t kMaxInventoryJson = 65536;
  // Records of one device waiting for a commit before the hub stops reading it,
  // and the level at which it reads again.
  static constexpr std::size_t kMaxUncommitted = 4096;
  static constexpr std::size_t kResumeUncommitted = 1024;
  // How long a device's next ack may be held, and the records waiting for it that
  // send it at once (see above).
  static constexpr std::int64_t kAckIntervalMs = 2000;
  static constexpr std::uint64_t kAckAtOnce = 32;
  static constexpr std::size_t kAcksPerTask = 256;

  explicit MonitoringIntake(ServiceContext context);
  ~MonitoringIntake() override;

  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;
  void on_device_online(const std::string& device_id) override;
  void on_device_offline(const std::string& device_id) override;
  // Sends the held acks that are due.
  void on_tick() override;
  // The clock of the ack hold, milliseconds (default: steady clock). Tests stop it.
  void set_clock(std::function<std::int64_t()> now_ms) { now_ms_ = std::move(now_ms); }
  ApiHandler* api() override;

 private:
  struct DeviceState {
    std::string id;
    // Decoded in this pass of the loop, not handed to the store yet (in order).
    std::vector<MonitoringRecord> pending;
    std::uint64_t acked = 0;       // highest seq committed on the current link
    std::uint64_t sent_ack = 0;    // the seq of the last ack sent on the current link
    std::int64_t sent_ack_ms = 0;  // when (now_ms_); 0: none on this link
    std::size_t uncommitted = 0;   // records pending or in the store, not yet committed
    bool paused = false;
    bool online = false;
    bool ack_due = false;       // `acked` moved and its ack is not sent yet
    bool handover_due = false;  // in handover_due_
    bool ack_held = false;      // in held_acks_: its ack waits until it is due
    // A commit of this link's records failed: nothing more is acked on this link
    // (a later ack would cover the lost seqs), and the link is being closed so
    // that the device reconnects and sends them again.
    bool store_failed = false;
  };
  // What the store committed of one device since the loop last looked: `n`
  // records, the highest seq among them, the first failure if any. The entry
  // stays in devices_ while it has uncommitted records, so the pointer is good
  // until the line has been handled.
  struct Commit {
    DeviceState* device = nullptr;
    std::uint64_t seq = 0;
    std::size_t n = 0;
    Status status;
  };
  // Where the writer thread leaves completions for the loop. Shared with the
  // completions handed to the store, which may outlive the intake.
  struct Mailbox {
    std::mutex mutex;
    std::vector<Commit> commits;  // at most one line per device
    // Where each device's line is. Keyed by the pointer, never read through it
    // here: the mailbox may outlive the intake and its entries.
    std::unordered_map<const DeviceState*, std::size_t> lines;
    bool task_posted = false;  // a take_commits() is queued on the loop
    // Queues take_commits() on the loop (set once, by the intake).
    std::function<void()> post_task;
  };

  void record_status(const std::string& device_id, const protocol::ProtoMsg& msg);
  void store_record(const std::string& device_id, const protocol::ProtoMsg& msg);
  // Hands every device's pending records to the store, one append per device.
  void hand_over();
  // Writer thread: folds one append's completion into its device's mailbox line.
  static void note_commit(Mailbox& mailbox, DeviceState* state, std::uint64_t seq, std::size_t n,
                          const Status& status);
  // Loop task: handles every line in the mailbox, queues flush_acks().
  void take_commits();
  void committed(DeviceState& state, std::uint64_t seq, std::size_t n, const Status& status);
  void refuse(const std::string& device_id, const protocol::ProtoMsg& msg, const Error& error);
  // Sends one cumulative ack to each device whose acked seq moved since the last
  // flush, or holds it for on_tick() (see above); kAcksPerTask at most per task.
  void flush_acks();
  // Queues flush_acks() when acks are due and it is not queued yet.
  void post_flush_acks();
  void send_ack(DeviceState& state, std::int64_t now);
  // The hold rule (see above): acked within kAckIntervalMs, fewer than kAckAtOnce waiting.
  static bool may_hold_ack(const DeviceState& state, std::int64_t now);
  // Queues the held acks that are due at `now` for flush_acks(), keeps the others held.
  void release_held_acks(std::int64_t now);
  // Drops the entry of a device that has gone and has nothing left in flight.
  void forget_if_done(DeviceState& state);
  // Runs `task` on the loop later (after the sockets of this pass), unless gone.
  void post(void (MonitoringIntake::*task)());

  ServiceContext context_;
  std::unordered_map<std::string, DeviceState> devices_;
  std::vector<DeviceState*> handover_due_;  // devices with pending records, in order
  std::deque<DeviceState*> ack_due_;        // devices with ack_due set, in order
  std::vector<DeviceState*> held_acks_;     // devices with ack_held set
  std::function<std::int64_t()> now_ms_;
  bool handover_posted_ = false;
  bool ack_flush_posted_ = false;
  std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>();
  std::vector<Commit> taken_;  // the lines take_commits() is handling (kept for its capacity)
  std::unique_ptr<MonitoringApi> api_;
  // Loop tasks hold this; they do nothing once it is gone.
  std::shared_ptr<MonitoringIntake*> self_;
};

}  // namespace tether::hub
