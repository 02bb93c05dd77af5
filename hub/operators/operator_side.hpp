// The operator side: operators' WebSockets attached to a device, the session ids
// (sid) they own, and flow control toward browsers.
//
// - An operator attaches to one device, while that device is online. When the
//   device goes offline, each of the operator's sessions is handed to the service
//   that claimed it (on_session_lost), then the operator gets a control error
//   {err: why, close: true} and its socket is closed with 1001.
// - A service claims a sid for an operator (shell `new`, control `open`); the hub
//   makes one up when it is empty. Later messages for the sid must come from the
//   same socket. When the socket goes, each claiming service is told
//   (on_session_abandoned) so it can stop the session on the device.
// - Flow control: past limits.queue_high_water queued toward one operator, the hub
//   stops reading from that operator's device until it drains to a quarter of it;
//   past limits.queue_hard_cap the operator is closed.
//
// - Roles: each operator socket has the role its login had at the upgrade; every
//   message is checked against message_roles.hpp before a service sees it, and a
//   refused one gets a control error naming the role it needs.
//
// Pure logic over the Link interface and DeviceSide. All on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "hub/config.hpp"
#include "hub/devices/device_side.hpp"
#include "hub/link.hpp"
#include "hub/operators/audit.hpp"
#include "hub/operators/caller.hpp"
#include "hub/services/protocol_service.hpp"
#include "protocol/message.hpp"

namespace tether::hub {

// Why an operator may not attach; maps onto an HTTP status before the upgrade.
enum class AttachCheck { kOk, kOffline, kTooManyOperators };

// Outcome of OperatorSide::claim.
enum class Claim {
  kClaimed,       // the sid is now this operator's (msg.hdr.sid set when it was empty)
  kAlreadyOwned,  // this operator owns it already (the device refuses a second open itself)
  kRefused,       // the operator got a control error (sid in use, too long, ...)
  kTooMany,       // session limits reached; the service answers in its protocol's words
};

// Where operator messages go: the service registry.
class OperatorMessages {
 public:
  virtual ~OperatorMessages() = default;
  // false: no service takes this proto from operators.
  virtual bool operator_message(OperatorId op, protocol::ProtoMsg& msg) = 0;
};

class OperatorSide {
 public:
  OperatorSide(DeviceSide& devices, OperatorMessages& services, const Limits& limits,
               const Logger& log)
      : devices_(devices), services_(services), limits_(limits), log_(log) {}

  // --- from the lws glue ---
  AttachCheck check_attach(const std::string& device_id) const;
  // `role` is what the operator may send (message_roles.hpp); the default keeps
  // callers that predate roles working as operators.
  void connected(OperatorId op, const std::string& device_id, const std::string& user, Link& link,
                 Role role = Role::kOperator);
  void message(OperatorId op, std::span<const std::uint8_t> data);
  void closed(OperatorId op);
  // Called after a write to the operator's socket (flow control).
  void wrote(OperatorId op);

  // --- from the device side: the device lost its lease ---
  void device_gone(const std::string& device_id, const std::string& why);

  // --- accounts: a disabled or deleted account's sockets are closed (its shells
  // and routed sessions end through their services). Returns how many. ---
  std::size_t disconnect_user(const std::string& user, const std::string& why);

  // Where refused messages are recorded (HubCore sets it).
  void set_audit(AuditTrail audit) { audit_ = audit; }

  // --- queries ---
  std::size_t operators_of(const std::string& device_id) const;
  // nullptr when `op` is not attached.
  const std::string* user_of(OperatorId op) const;
  const std::string* device_of(OperatorId op) const;
  // nullopt when `op` is not attached.
  std::optional<Role> role_of(OperatorId op) const;

  // --- for services: sending ---
  // To the operator, with flow control toward the device it is attached to.
  void send(OperatorId op, const protocol::ProtoMsg& msg, bool urgent);
  void send_error(OperatorId op, const std::string& err, bool close,
                  const protocol::ProtoHdr* about);
  // To the operator's device, with props.user_id = the operator's name. An
  // operator whose device is not keeping up gets a control error instead.
  void to_device(OperatorId op, protocol::ProtoMsg& msg, bool urgent);
  // To the operator owning msg.hdr.sid on `device_id`; `forget` ends the session.
  // false when nobody owns the sid.
  bool to_owner(const std::string& device_id, const protocol::ProtoMsg& msg, bool urgent,
                bool forget);

  // --- for services: session ids ---
  Claim claim(OperatorId op, protocol::ProtoMsg& msg, ProtocolService& owner);
  // Whether `op` owns hdr.sid; if not, the operator gets "session not found".
  bool owns(OperatorId op, const protocol::ProtoHdr& hdr);
  bool has_owner(const std::string& device_id, const std::string& sid) const;
  void forget(const std::string& device_id, const std::string& sid);
  // The sids `op` owns through `owner`, in order.
  std::vector<std::string> sessions_of(OperatorId op, const ProtocolService& owner) const;

 private:
  struct Attached {
    std::set<OperatorId> operators;
    std::map<std::string, OperatorId, std::less<>> sid_owner;
    // Operators over the high-water mark; while non-empty the device is paused.
    std::set<OperatorId> slow;
  };
  struct Operator {
    std::string user;
    std::string device_id;
    Link* link = nullptr;
    Role role = Role::kViewer;
    std::map<std::string, ProtocolService*, std::less<>> sessions;
  };

  DeviceSide& devices_;
  OperatorMessages& services_;
  const Limits& limits_;
  const Logger& log_;
  AuditTrail audit_;
  std::map<std::string, Attached, std::less<>> devices_state_;
  std::map<OperatorId, Operator> operators_;
};

}  // namespace tether::hub
