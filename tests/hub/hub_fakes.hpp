// Fakes for the hub's unit tests: a Link that records what it is sent, a device
// side with no sockets, and a store in memory (each a second implementation of the
// interface the hub's parts are written against).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hub/devices/device_side.hpp"
#include "hub/link.hpp"
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

  std::vector<protocol::ProtoMsg> take() {
    urgency.clear();
    return std::exchange(sent, {});
  }

  std::vector<protocol::ProtoMsg> sent;
  std::vector<bool> urgency;
  int closed = 0;
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

}  // namespace tether::hub::testing
