// Fakes for the hub's unit tests: a Link that records what it is sent, a device
// side with no sockets, and a store in memory (each a second implementation of the
// interface the hub's parts are written against).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hub/devices/device_side.hpp"
#include "hub/link.hpp"
#include "hub/store/config_store.hpp"
#include "hub/store/monitoring_store.hpp"
#include "hub/store/store.hpp"
#include "protocol/message.hpp"

namespace tether::hub::testing {

class FakeLink : public Link {
 public:
  void send(protocol::Bytes encoded, bool urgent) override {
    auto m = protocol::decode(encoded);
    ASSERT_TRUE(m.ok());
    sent.push_back(*m);
    urgency.push_back(urgent);
  }
  void close(std::uint16_t code, std::string) override { closed = code; }
  std::size_t queued_bytes() const override { return queued; }
  void set_receiving(bool on) override { receiving = on; }
  void mark_interactive() override { ++interactive_marks; }

  std::vector<protocol::ProtoMsg> take() {
    urgency.clear();
    return std::exchange(sent, {});
  }

  std::vector<protocol::ProtoMsg> sent;
  std::vector<bool> urgency;
  int closed = 0;
  int interactive_marks = 0;
  std::size_t queued = 0;
  bool receiving = true;
};

// Devices that are "online" somewhere; what is sent to them is recorded.
class FakeDeviceSide : public DeviceSide {
 public:
  Status send(const std::string& device_id, const protocol::ProtoMsg& msg, bool) override {
    if (online_.count(device_id) == 0) return Error(ErrorCode::kUnavailable, "offline");
    if (busy) return Error(ErrorCode::kBusy, "busy");
    sent[device_id].push_back(msg);
    return Status::Ok();
  }
  bool online(const std::string& device_id) const override { return online_.count(device_id) != 0; }
  void set_receiving(const std::string& device_id, bool on) override { receiving[device_id] = on; }
  void disconnect(const std::string& device_id, std::uint16_t code,
                  const std::string& reason) override {
    disconnects[device_id].emplace_back(code, reason);
  }

  void set_online(const std::string& device_id, bool on) {
    if (on) {
      online_.insert(device_id);
    } else {
      online_.erase(device_id);
    }
  }
  std::vector<protocol::ProtoMsg> take(const std::string& device_id) {
    return std::exchange(sent[device_id], {});
  }

  std::map<std::string, std::vector<protocol::ProtoMsg>> sent;
  std::map<std::string, bool> receiving;
  std::map<std::string, std::vector<std::pair<std::uint16_t, std::string>>> disconnects;
  bool busy = false;

 private:
  std::set<std::string> online_;
};

class MemoryStore : public Store {
 public:
  Status put_device(const std::string& id, const std::string& token_sha256,
                    std::int64_t now) override {
    auto& d = devices[id];
    d.id = id;
    if (d.created_ms == 0) d.created_ms = now;
    tokens[token_sha256] = id;
    return Status::Ok();
  }
  Result<std::optional<std::string>> device_for_token(const std::string& token_sha256) override {
    auto it = tokens.find(token_sha256);
    if (it == tokens.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<std::optional<DeviceRecord>> get(const std::string& id) override {
    auto it = devices.find(id);
    if (it == devices.end()) return std::optional<DeviceRecord>();
    return std::optional<DeviceRecord>(it->second);
  }
  Result<std::vector<DeviceRecord>> list() override {
    std::vector<DeviceRecord> out;
    for (const auto& [id, d] : devices) out.push_back(d);
    return out;
  }
  void record_seen(const std::string& id, std::int64_t now) override {
    if (auto it = devices.find(id); it != devices.end()) it->second.last_seen_ms = now;
  }
  void record_status(const std::string& id, const StatusUpdate& st, std::int64_t now) override {
    statuses.emplace_back(id, st);
    if (auto it = devices.find(id); it != devices.end()) {
      it->second.version = st.version;
      it->second.state = st.state;
      it->second.boot_id = st.boot_id;
      it->second.uptime_s = st.uptime_s;
      it->second.status_ms = now;
      it->second.last_seen_ms = now;
    }
  }
  Status flush() override { return Status::Ok(); }

  std::map<std::string, DeviceRecord> devices;
  std::map<std::string, std::string> tokens;
  std::vector<std::pair<std::string, StatusUpdate>> statuses;
};

// A monitoring store whose commits happen only when the test says so: append()
// holds the records and their completion until commit() (or fail()) runs them, so
// a test can see that nothing is acknowledged before its commit.
class HeldMonitoringStore : public MonitoringStore {
 public:
  void append(const std::string& device, std::vector<MonitoringRecord> records,
              Committed done) override {
    held.push_back({device, std::move(records), std::move(done)});
  }
  void record_status(const std::string& device, const DeviceStatusRecord& status) override {
    statuses.emplace_back(device, status);
  }
  void record_presence(const std::string& device, const PresenceEvent& event) override {
    presence_events.emplace_back(device, event);
  }
  // Commits everything held: stores each (device, seq) once, then runs completions.
  std::size_t commit() {
    auto batch = std::exchange(held, {});
    for (auto& a : batch) {
      for (auto& r : a.records) stored.emplace(std::make_pair(a.device, r.seq), r);
    }
    for (auto& a : batch) a.done(Status::Ok());
    return batch.size();
  }
  void fail() {
    auto batch = std::exchange(held, {});
    for (auto& a : batch) a.done(Error(ErrorCode::kStorageFailure, "disk on fire"));
  }

  Result<std::vector<StoredRecord>> latest_per_stream(const std::string&) override {
    return rows();
  }
  Result<std::vector<StoredRecord>> records_after(const std::string&, std::int64_t,
                                                  std::size_t) override {
    return rows();
  }
  Result<std::vector<StoredRecord>> alert_history(const std::string&, std::size_t) override {
    return rows();
  }
  Result<std::vector<OpenAlert>> open_alerts(const std::string&) override {
    return std::vector<OpenAlert>{};
  }
  Result<std::vector<std::pair<std::string, std::size_t>>> open_alert_counts() override {
    return std::vector<std::pair<std::string, std::size_t>>{};
  }
  Result<std::optional<DeviceStatusRecord>> status(const std::string&) override {
    return std::optional<DeviceStatusRecord>();
  }
  Result<std::vector<PresenceEvent>> presence(const std::string&, std::size_t) override {
    return std::vector<PresenceEvent>{};
  }
  Result<std::vector<SeriesPoint>> series(const SeriesQuery&) override {
    return std::vector<SeriesPoint>{};
  }
  Result<std::int64_t> count(const std::string&) override {
    return static_cast<std::int64_t>(stored.size());
  }
  Result<std::int64_t> last_cursor(const std::string&) override { return 0; }
  Status flush() override { return Status::Ok(); }

  struct Held {
    std::string device;
    std::vector<MonitoringRecord> records;
    Committed done;
  };
  std::vector<Held> held;
  std::map<std::pair<std::string, std::uint64_t>, MonitoringRecord> stored;
  std::vector<std::pair<std::string, DeviceStatusRecord>> statuses;
  std::vector<std::pair<std::string, PresenceEvent>> presence_events;

 private:
  static Result<std::vector<StoredRecord>> rows() { return std::vector<StoredRecord>{}; }
};

// A config store in memory whose commits happen when the test says so: writes are
// visible to reads at once (as the real store's overlay makes them), and
// put_version's completion runs only at commit() (or fail(), which also forgets
// the failed versions, as the real store does).
class HeldConfigStore : public ConfigStore {
 public:
  void put_version(const std::string& device, const ConfigVersion& version,
                   Committed done) override {
    versions[device][version.version] = version;
    held.push_back({device, version.version, std::move(done)});
  }
  void put_reported(const std::string& device, const ReportedConfig& r) override {
    reports[device] = r;
  }
  Result<std::optional<ConfigVersion>> latest(const std::string& device) override {
    auto it = versions.find(device);
    if (it == versions.end() || it->second.empty()) return std::optional<ConfigVersion>();
    return std::optional<ConfigVersion>(it->second.rbegin()->second);
  }
  Result<std::vector<ConfigVersion>> history(const std::string& device,
                                             std::size_t limit) override {
    std::vector<ConfigVersion> out;
    auto it = versions.find(device);
    if (it == versions.end()) return out;
    for (auto v = it->second.rbegin(); v != it->second.rend() && out.size() < limit; ++v) {
      out.push_back(v->second);
    }
    return out;
  }
  Result<std::optional<ReportedConfig>> reported(const std::string& device) override {
    auto it = reports.find(device);
    if (it == reports.end()) return std::optional<ReportedConfig>();
    return std::optional<ReportedConfig>(it->second);
  }
  Status flush() override { return Status::Ok(); }

  std::size_t commit() {
    auto batch = std::exchange(held, {});
    for (auto& h : batch) {
      if (h.done) h.done(Status::Ok());
    }
    return batch.size();
  }
  void fail() {
    auto batch = std::exchange(held, {});
    for (auto& h : batch) {
      versions[h.device].erase(h.version);
      if (h.done) h.done(Error(ErrorCode::kStorageFailure, "disk on fire"));
    }
  }

  struct Held {
    std::string device;
    std::uint64_t version;
    Committed done;
  };
  std::vector<Held> held;
  std::map<std::string, std::map<std::uint64_t, ConfigVersion>> versions;
  std::map<std::string, ReportedConfig> reports;
};

}  // namespace tether::hub::testing
