// Monitoring intake (proto 0x0010, wire.md 5.1). The device's `status` is recorded
// (version, boot id, inventory) and its records (`data`, `alert`, `dropped`) are
// stored in the MonitoringStore. The cumulative `ack {seq:N}` goes out only from
// the completion of the store's commit that holds N: records reach the store in
// arrival order and batches commit in order, so when a batch is safe so is every
// record the device sent before. A seq already stored is not stored again and is
// acked all the same (the device re-sends unacked records after a reconnect).
//
// Bounds on what one device can make the hub keep: a record's stream / alert id,
// summary, number of fields and encoded size are capped (kLimits below); a record
// over them, or with a body that does not decode, gets a control error and is not
// stored (a later ack covers its seq: the device is told, not silently ignored).
// Per stream, history is capped and aged out by the store (MonitoringRetention).
// A device whose records wait for commits past kMaxUncommitted is paused.
//
// Presence (online/offline times) comes from the device side's lease.
// Operators may not send monitoring messages. The JSON routes are in
// monitoring_api.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hub/services/protocol_service.hpp"

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

  explicit MonitoringIntake(ServiceContext context);
  ~MonitoringIntake() override;

  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;
  void on_device_online(const std::string& device_id) override;
  void on_device_offline(const std::string& device_id) override;
  ApiHandler* api() override;

 private:
  struct DeviceState {
    std::uint64_t acked = 0;      // highest seq acknowledged on the current link
    std::size_t uncommitted = 0;  // records handed to the store, not yet committed
    bool paused = false;
    bool online = false;
    bool ack_due = false;  // `acked` moved and its ack is not sent yet
  };

  void record_status(const std::string& device_id, const protocol::ProtoMsg& msg);
  void store_record(const std::string& device_id, const protocol::ProtoMsg& msg);
  void committed(const std::string& device_id, std::uint64_t seq, std::size_t n,
                 const Status& status);
  void refuse(const std::string& device_id, const protocol::ProtoMsg& msg, const Error& error);
  // Sends one cumulative ack to each device whose acked seq moved since the last flush.
  void flush_acks();

  ServiceContext context_;
  std::map<std::string, DeviceState, std::less<>> devices_;
  std::vector<std::string> ack_due_;  // devices with ack_due set, in order
  bool ack_flush_posted_ = false;
  std::unique_ptr<MonitoringApi> api_;
  // Completions posted to the loop hold this; they do nothing once it is gone.
  std::shared_ptr<MonitoringIntake*> self_;
};

}  // namespace tether::hub
