// The monitoring protocol handler (proto 0x0010, wire.md 5.1, docs/monitoring.md).
//
// Records (data, alert, dropped) live in the durable store's "monitoring" log, whose
// sequence numbers are the records' seq: one space that survives restarts and never
// repeats. A record is committed (group commit) before the call that made it is
// answered; it stays stored until a cumulative `ack` covers it. While the link is up
// the plugin keeps up to `window` records in flight: after every connect it sends
// `status online`, then every unacknowledged record in seq order, read from the store
// in bounded batches, then new ones as they commit. The log is bounded by max-bytes:
// the store drops the oldest records and appends one `dropped` record in the same
// step, so loss is never silent.
//
// Everything runs on the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"
#include "daemon/store/durable_store.hpp"
#include "plugins/monitoring/monitoring_options.hpp"
#include "plugins/monitoring/stored_record.hpp"

namespace tether::plugins::monitoring {

class TelemetryService;

// The store's log that holds the records (docs/store.md).
inline constexpr char kRecordLog[] = "monitoring";

// The row of main's plugin table.
Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options);

// Gateway1.PendingRecords: records stored and not yet acknowledged.
std::uint64_t pending_records(const daemon::store::DurableStore& store);

class MonitoringPlugin final : public daemon::ProtocolHandler {
 public:
  // Gets the seq of a committed record, or why there is none. Runs on the loop,
  // later, except for a refusal (validation, Busy), which runs inside the call.
  using SeqDone = std::function<void(Result<std::uint64_t>)>;

  MonitoringPlugin(const daemon::PluginContext& context, daemon::store::DurableStore& store,
                   MonitoringOptions options);
  ~MonitoringPlugin() override;
  MonitoringPlugin(const MonitoringPlugin&) = delete;
  MonitoringPlugin& operator=(const MonitoringPlugin&) = delete;

  // Serves io.tether.Telemetry1 on `bus` (kept for the plugin's life).
  Status serve_telemetry(daemon::dbus::BusService& bus);

  Status on_message(const protocol::ProtoMsg& msg) override;
  void on_connected() override;
  void on_disconnected() override;
  void on_shutdown() override;

  // The three kinds of record a local app makes (Telemetry1). kInvalidArgument for an
  // empty stream or id, an unknown severity, or a record over max-record; kBusy past
  // max-pending-calls; the store's error when the commit fails.
  void submit(std::string stream, protocol::Map values, SeqDone done);
  void raise_alert(std::string id, std::string severity, std::string summary, protocol::Map details,
                   SeqDone done);
  void clear_alert(std::string id, SeqDone done);

  // Calls waiting for their commit now.
  std::size_t pending_calls() const { return pending_calls_; }
  // Highest seq the backend acknowledged.
  std::uint64_t acked_through() const { return acked_through_; }

 private:
  void append(RecordKind kind, const protocol::Bytes& body_with_zero_seq, SeqDone done);
  void on_committed(const protocol::Bytes& stored, std::uint64_t seq, bool dropped_before);
  // Sends what the window allows: reads the next batch from the store.
  void pump();
  void send_status(const char* state);
  Status handle_ack(const protocol::ProtoMsg& msg);
  void erase_acked();
  std::uint64_t in_flight() const;
  bool ready_to_send() const { return connected_ && status_sent_; }

  daemon::EventLoop& loop_;
  daemon::Outbound& outbound_;
  daemon::PluginLogger log_;
  daemon::DeviceIdentity device_;
  daemon::store::DurableStore& store_;
  MonitoringOptions options_;
  std::unique_ptr<TelemetryService> telemetry_;
  daemon::Timer retry_;

  protocol::Map inventory_;
  bool connected_ = false;
  bool status_sent_ = false;  // on the current connection
  // Bumped by every connect and disconnect, so that a read or an inventory run
  // started for an earlier connection is recognised when it completes.
  std::uint64_t epoch_ = 0;
  std::uint64_t sent_through_ = 0;   // highest seq sent on this connection
  std::uint64_t acked_through_ = 0;  // highest seq acknowledged
  std::uint64_t erased_through_ = 0;
  bool reading_ = false;
  bool erasing_ = false;
  std::size_t pending_calls_ = 0;
  // The `dropped` markers written by this process and still stored, by seq: the
  // range each reports. Shared with the store's writer thread, where markers are
  // built; at most one entry per stored marker. Not persisted: after a restart a
  // marker written before it is reported on its own even if dropped later.
  //
  // One lost range, one marker: while a marker cannot have reached the backend (no
  // read of the log is under way and its seq is above everything sent), a further
  // loss that continues its range rewrites it in place rather than adding a second
  // marker. Once a marker may have been sent it is frozen, since the backend keeps
  // the first copy of each seq.
  struct StoredMarkers {
    struct Range {
      std::uint64_t first = 0;
      std::uint64_t last = 0;
      std::uint64_t count = 0;
    };
    std::mutex mutex;
    std::map<std::uint64_t, Range> stored;
    // Markers with seq <= frozen_through may have been sent.
    std::uint64_t frozen_through = 0;
    // Reads of the log issued and not yet handled on the loop: what they return may
    // be sent, so no marker is rewritten meanwhile.
    std::size_t reads_in_flight = 0;
  };
  std::shared_ptr<StoredMarkers> markers_;
  // Callbacks from the store and workers hold a weak reference: the plugin is
  // destroyed before the store, whose queued callbacks then find it gone.
  std::shared_ptr<MonitoringPlugin*> self_;
};

}  // namespace tether::plugins::monitoring
