#include "plugins/monitoring/monitoring_plugin.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "daemon/dbus/bus_service.hpp"
#include "plugins/monitoring/telemetry_service.hpp"
#include "protocol/monitoring.hpp"

namespace tether::plugins::monitoring {
namespace {

namespace wire = protocol::monitoring;
using daemon::store::DurableStore;

// One read from the store: at most this many records or bytes (memory stays bounded
// however many records wait), and the window's room.
constexpr std::size_t kReadRecords = 256;
constexpr std::size_t kReadBytes = std::size_t{1} << 20U;
// A read that failed is tried again after this long.
constexpr std::chrono::milliseconds kReadRetry{1000};
// The outbound flow of records, and when a full queue counts as drained again.
constexpr char kFlow[] = "monitoring";
constexpr std::size_t kFlowLowWater = std::size_t{256} << 10U;
constexpr std::size_t kTotalLowWater = std::size_t{1} << 20U;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error invalid(std::string sentence) {
  return Error(ErrorCode::kInvalidArgument, std::move(sentence));
}

}  // namespace

std::uint64_t pending_records(const DurableStore& store) {
  return store.stats(kRecordLog).count;
}

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options) {
  MonitoringOptions monitoring_options = read_options(options);
  if (!options.ok()) return Error(ErrorCode::kInvalidArgument, "invalid [monitoring] options");
  if (context.store == nullptr)
    return Error(ErrorCode::kInternal, "the monitoring plugin needs the durable store");
  auto plugin =
      std::make_unique<MonitoringPlugin>(context, *context.store, std::move(monitoring_options));
  if (context.bus != nullptr) {
    if (auto served = plugin->serve_telemetry(*context.bus); !served) return served.error();
  }
  return std::unique_ptr<daemon::ProtocolHandler>(std::move(plugin));
}

MonitoringPlugin::MonitoringPlugin(const daemon::PluginContext& context, DurableStore& store,
                                   MonitoringOptions options)
    : loop_(context.loop),
      outbound_(context.outbound),
      log_(context.log),
      device_(context.device),
      store_(store),
      options_(std::move(options)),
      retry_(context.loop),
      markers_(std::make_shared<StoredMarkers>()),
      self_(std::make_shared<MonitoringPlugin*>(this)) {
  const auto stats = store_.stats(kRecordLog);
  // Everything before the first stored record was acknowledged (or dropped) before.
  acked_through_ = stats.count > 0 ? stats.first_seq - 1 : stats.high_water;
  erased_through_ = acked_through_;
  sent_through_ = acked_through_;
}

MonitoringPlugin::~MonitoringPlugin() {
  // The adaptor goes first: no call reaches a plugin that is being torn down.
  telemetry_.reset();
}

Status MonitoringPlugin::serve_telemetry(daemon::dbus::BusService& bus) {
  try {
    telemetry_ = std::make_unique<TelemetryService>(bus, *this);
  } catch (const sdbus::Error& error) {
    return Error(ErrorCode::kInternal, "cannot serve io.tether.Telemetry1: " + error.getMessage());
  }
  return {};
}

// ---- Records in ----

void MonitoringPlugin::submit(std::string stream, protocol::Map values, SeqDone done) {
  if (stream.empty()) return done(invalid("the stream name is empty"));
  wire::DataRecord record{
      .seq = 0, .ts = now_ms(), .stream = std::move(stream), .values = std::move(values)};
  append(RecordKind::kData, record.encode(), std::move(done));
}

void MonitoringPlugin::raise_alert(std::string id, std::string severity, std::string summary,
                                   protocol::Map details, SeqDone done) {
  if (id.empty()) return done(invalid("the alert id is empty"));
  if (std::find(wire::kSeverities.begin(), wire::kSeverities.end(), severity) ==
      wire::kSeverities.end()) {
    return done(invalid("unknown severity '" + severity +
                        "' (one of: critical, major, minor, warning, info)"));
  }
  wire::AlertRecord record{.seq = 0,
                           .ts = now_ms(),
                           .id = std::move(id),
                           .severity = std::move(severity),
                           .state = wire::kRaised,
                           .summary = std::move(summary),
                           .details = std::move(details)};
  append(RecordKind::kAlert, record.encode(), std::move(done));
}

void MonitoringPlugin::clear_alert(std::string id, SeqDone done) {
  if (id.empty()) return done(invalid("the alert id is empty"));
  // A clear names only the id; the backend matches it to its raise. The schema wants
  // a severity, and the lowest one says that nothing is wrong any more.
  wire::AlertRecord record{.seq = 0,
                           .ts = now_ms(),
                           .id = std::move(id),
                           .severity = "info",
                           .state = wire::kCleared,
                           .summary = {},
                           .details = {}};
  append(RecordKind::kAlert, record.encode(), std::move(done));
}

void MonitoringPlugin::append(RecordKind kind, const protocol::Bytes& body_with_zero_seq,
                              SeqDone done) {
  // On the wire the record carries its seq (up to 9 bytes where the placeholder has 1).
  const std::size_t wire_size = body_with_zero_seq.size() + 8;
  if (wire_size > options_.max_record) {
    return done(invalid("the record is " + std::to_string(wire_size) +
                        " bytes, over monitoring.max-record (" +
                        std::to_string(options_.max_record) + " bytes)"));
  }
  if (pending_calls_ >= options_.max_pending_calls) {
    return done(Error(ErrorCode::kBusy, std::to_string(pending_calls_) +
                                            " calls are already waiting for the store "
                                            "(monitoring.max-pending-calls); try again shortly"));
  }
  ++pending_calls_;
  protocol::Bytes stored = stored_form(kind, body_with_zero_seq);
  auto make_dropped = [markers = markers_](const daemon::store::DroppedRange& range,
                                           std::uint64_t seq) {
    // Runs on the store's writer thread. Markers among the rows dropped now never
    // reached the backend: the new marker reports their ranges too, so no loss report
    // is itself lost.
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    if (range.first == kMax) {
      // The store asks for the largest marker, to reserve its room: build it, record nothing.
      wire::DroppedRecord largest{
          .seq = 0, .ts = now_ms(), .first = kMax, .last = kMax, .count = kMax};
      return daemon::store::DurableStore::DropMarker{
          stored_form(RecordKind::kDropped, largest.encode()), 0};
    }
    std::lock_guard lock(markers->mutex);
    std::uint64_t first = range.first;
    std::uint64_t count = range.count;
    auto it = markers->stored.lower_bound(range.first);
    while (it != markers->stored.end() && it->first <= range.last) {
      first = std::min(first, it->second.first);
      count += it->second.count;
      it = markers->stored.erase(it);
    }
    std::uint64_t marker_seq = seq;
    std::uint64_t replaces = 0;
    if (!markers->stored.empty() && markers->reads_in_flight == 0) {
      auto& [latest_seq, latest] = *markers->stored.rbegin();
      // The loss continues the latest marker's range, which nobody has seen yet.
      if (latest_seq > markers->frozen_through && latest.last + 1 == range.first) {
        first = std::min(first, latest.first);
        count += latest.count;
        marker_seq = latest_seq;
        replaces = latest_seq;
      }
    }
    markers->stored[marker_seq] = {first, range.last, count};
    wire::DroppedRecord marker{
        .seq = 0, .ts = now_ms(), .first = first, .last = range.last, .count = count};
    return daemon::store::DurableStore::DropMarker{
        stored_form(RecordKind::kDropped, marker.encode()), replaces};
  };
  std::weak_ptr<MonitoringPlugin*> weak = self_;
  auto kept = std::make_shared<protocol::Bytes>(stored);
  store_.append_within_budget(
      kRecordLog, std::move(stored), options_.max_bytes, make_dropped,
      [weak, kept, done = std::move(done)](Result<daemon::store::BudgetedAppend> appended) {
        auto self = weak.lock();
        if (!self) return;
        MonitoringPlugin& plugin = **self;
        --plugin.pending_calls_;
        if (!appended) {
          plugin.log_.warn("a record was not stored: " + appended.error().message());
          done(appended.error());
          return;
        }
        if (appended->dropped) {
          const auto& range = *appended->dropped;
          plugin.log_.warn("the record store is full (monitoring.max-bytes): records " +
                           std::to_string(range.first) + ".." + std::to_string(range.last) + " (" +
                           std::to_string(range.count) + ") were dropped, reported as record " +
                           std::to_string(appended->dropped_record_seq));
        }
        // Answer first: the caller's reply must not wait for the network.
        done(appended->seq);
        plugin.on_committed(*kept, appended->seq, appended->dropped.has_value());
      });
}

void MonitoringPlugin::on_committed(const protocol::Bytes& stored, std::uint64_t seq,
                                    bool dropped_before) {
  // The common case costs no read: the record just committed is the next one to
  // send and the window has room, so it goes out from memory.
  if (!dropped_before && ready_to_send() && !reading_ && seq == sent_through_ + 1 &&
      in_flight() < options_.window) {
    if (auto msg = stamp(stored, seq)) {
      if (outbound_.send(*msg, daemon::Priority::kBulk, kFlow)) {
        sent_through_ = seq;
        return;
      }
    }
  }
  pump();
}

// ---- Records out ----

std::uint64_t MonitoringPlugin::in_flight() const {
  return sent_through_ > acked_through_ ? sent_through_ - acked_through_ : 0;
}

void MonitoringPlugin::pump() {
  if (!ready_to_send() || reading_) return;
  if (store_.stats(kRecordLog).last_seq <= sent_through_) return;
  if (in_flight() >= options_.window) return;
  const std::size_t room = options_.window - static_cast<std::size_t>(in_flight());
  reading_ = true;
  {
    std::lock_guard lock(markers_->mutex);
    ++markers_->reads_in_flight;
  }
  std::weak_ptr<MonitoringPlugin*> weak = self_;
  const std::uint64_t epoch = epoch_;
  store_.read(kRecordLog, sent_through_, std::min(room, kReadRecords), kReadBytes,
              [weak, epoch](Result<std::vector<daemon::store::LogRecord>> records) {
                auto self = weak.lock();
                if (!self) return;
                MonitoringPlugin& plugin = **self;
                plugin.reading_ = false;
                // Whatever this read returned may go out now: freeze it (see StoredMarkers).
                struct Unfreeze {
                  MonitoringPlugin& plugin;
                  std::uint64_t returned_through;
                  ~Unfreeze() {
                    std::lock_guard lock(plugin.markers_->mutex);
                    --plugin.markers_->reads_in_flight;
                    plugin.markers_->frozen_through =
                        std::max(plugin.markers_->frozen_through, returned_through);
                  }
                } unfreeze{plugin, records && !records->empty() ? records->back().seq : 0};
                if (epoch != plugin.epoch_) {
                  plugin.pump();
                  return;
                }
                if (!records) {
                  plugin.log_.warn("cannot read records to send: " + records.error().message());
                  plugin.retry_.start(kReadRetry, [&plugin] { plugin.pump(); });
                  return;
                }
                for (const auto& record : *records) {
                  if (record.seq <= plugin.sent_through_) continue;
                  auto msg = stamp(record.bytes, record.seq);
                  if (!msg) {
                    plugin.log_.error("stored record " + std::to_string(record.seq) +
                                      " is damaged and cannot be sent; skipping it");
                    plugin.sent_through_ = record.seq;
                    continue;
                  }
                  if (!plugin.outbound_.send(*msg, daemon::Priority::kBulk, kFlow)) {
                    // The outbound queue is full: go on once it has drained.
                    if (plugin.outbound_.connected()) {
                      plugin.outbound_.when_drained(kFlow, kFlowLowWater, kTotalLowWater, [weak] {
                        if (auto again = weak.lock()) (**again).pump();
                      });
                    }
                    return;
                  }
                  plugin.sent_through_ = record.seq;
                }
                plugin.pump();
              });
}

void MonitoringPlugin::send_status(const char* state) {
  wire::Status status{.state = state,
                      .device_id = device_.id,
                      .version = device_.version,
                      .boot_id = read_boot_id(),
                      .uptime_s = read_uptime_seconds(),
                      .inventory = inventory_};
  auto sent = outbound_.send(
      protocol::make_msg(protocol::proto::kMonitoring, wire::kStatus, {}, {}, status.encode()),
      daemon::Priority::kBulk, kFlow);
  if (!sent) log_.warn(std::string("status ") + state + " not sent: " + sent.error().message());
}

void MonitoringPlugin::on_connected() {
  connected_ = true;
  status_sent_ = false;
  ++epoch_;
  sent_through_ = acked_through_;
  // The inventory scripts run off the loop; records wait until `status` has gone,
  // so the backend always hears `online` first.
  std::weak_ptr<MonitoringPlugin*> weak = self_;
  const std::uint64_t epoch = epoch_;
  auto inventory = std::make_shared<Inventory>();
  loop_.run_blocking(
      [inventory, options = options_.inventory] { *inventory = collect_inventory(options); },
      [weak, epoch, inventory] {
        auto self = weak.lock();
        if (!self) return;
        MonitoringPlugin& plugin = **self;
        for (const auto& problem : inventory->problems) plugin.log_.warn("inventory: " + problem);
        plugin.inventory_ = std::move(inventory->entries);
        if (epoch != plugin.epoch_ || !plugin.connected_) return;
        plugin.send_status(wire::kOnline);
        plugin.status_sent_ = true;
        plugin.pump();
      });
}

void MonitoringPlugin::on_disconnected() {
  connected_ = false;
  status_sent_ = false;
  ++epoch_;
  retry_.cancel();
  // Whatever was in flight and not acknowledged goes again after the next connect.
  sent_through_ = acked_through_;
}

void MonitoringPlugin::on_shutdown() {
  if (connected_) send_status(wire::kShutdown);
}

// ---- Acks ----

Status MonitoringPlugin::on_message(const protocol::ProtoMsg& msg) {
  if (msg.hdr.typ == wire::kAck) return handle_ack(msg);
  return Error(ErrorCode::kProtocol, "monitoring: unknown typ '" + msg.hdr.typ + "'");
}

Status MonitoringPlugin::handle_ack(const protocol::ProtoMsg& msg) {
  auto ack = wire::Ack::decode(msg.body);
  if (!ack) return ack.error();
  const std::uint64_t high_water = store_.stats(kRecordLog).high_water;
  if (ack->seq > high_water) {
    return Error(ErrorCode::kProtocol, "monitoring ack: seq " + std::to_string(ack->seq) +
                                           " was never sent (the last record is " +
                                           std::to_string(high_water) + ")");
  }
  if (ack->seq <= acked_through_) return {};  // a repeat, or an older one
  acked_through_ = ack->seq;
  sent_through_ = std::max(sent_through_, acked_through_);
  erase_acked();
  pump();
  return {};
}

void MonitoringPlugin::erase_acked() {
  if (erasing_ || erased_through_ >= acked_through_) return;
  erasing_ = true;
  const std::uint64_t through = acked_through_;
  std::weak_ptr<MonitoringPlugin*> weak = self_;
  store_.erase_through(kRecordLog, through, [weak, through](const Status& erased) {
    auto self = weak.lock();
    if (!self) return;
    MonitoringPlugin& plugin = **self;
    plugin.erasing_ = false;
    if (!erased) {
      // The records stay stored and are sent again; nothing is lost.
      plugin.log_.warn("cannot erase acknowledged records: " + erased.error().message());
      return;
    }
    plugin.erased_through_ = std::max(plugin.erased_through_, through);
    {
      std::lock_guard lock(plugin.markers_->mutex);
      auto& stored = plugin.markers_->stored;
      stored.erase(stored.begin(), stored.upper_bound(through));
    }
    plugin.erase_acked();
  });
}

}  // namespace tether::plugins::monitoring
