// Sessions and relay: the live device links, the operators attached to them, and
// the routing of ProtoMsg between the two, as Mender's deviceconnect does it:
//
// - Device -> hub: control ping, shell ping and monitoring are answered by the hub;
//   shell / file transfer / port forward messages go to the operator that owns the
//   session id (sid); output for a sid nobody owns is answered with a shell `stop`.
// - Operator -> device: every message gets props.user_id = the operator's name. A
//   shell `new` (or control `open`) claims its sid for that operator socket (the hub
//   makes one up when it is empty); every later message for the sid must come from
//   the same socket, else it is refused with a control `error`.
// - When an operator socket goes away, the device's shells of that socket are
//   stopped (shell `stop`); routed sessions get a control `close`.
// - When the device link goes away (or is replaced by a newer connection of the
//   same device), each attached operator gets a shell `stop` with status 2 for each
//   of its shells, then a control `error` {err:"device disconnected", close:true},
//   and its socket is closed with 1001.
//
// Pure logic over the Link interface: no lws here. All on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "hub/config.hpp"
#include "hub/link.hpp"
#include "hub/log.hpp"
#include "hub/store.hpp"
#include "protocol/message.hpp"

namespace tether::hub {

using ConnId = std::uint64_t;

// Why an operator may not attach; maps onto an HTTP status before the upgrade.
enum class AttachCheck { kOk, kUnknownDevice, kOffline, kTooManyOperators };

class Relay {
 public:
  Relay(Store& store, const Limits& limits, const Logger& log)
      : store_(store), limits_(limits), log_(log) {}

  // --- devices ---
  // A device authenticated and upgraded. An older link of the same device is
  // closed and its operators told.
  void device_connected(ConnId conn, const std::string& device_id, Link& link);
  // One complete binary message from a device.
  void device_message(ConnId conn, std::span<const std::uint8_t> data);
  // The device's socket is gone (idempotent; unknown ids are ignored).
  void device_closed(ConnId conn);

  // --- operators ---
  AttachCheck check_attach(const std::string& device_id) const;
  void operator_connected(ConnId conn, const std::string& device_id, const std::string& user,
                          Link& link);
  void operator_message(ConnId conn, std::span<const std::uint8_t> data);
  void operator_closed(ConnId conn);
  // The server calls this after writing to an operator's socket (flow control).
  void operator_wrote(ConnId conn);

  // --- queries for the API ---
  bool online(const std::string& device_id) const { return by_device_.count(device_id) != 0; }
  std::size_t operators_of(const std::string& device_id) const;

 private:
  enum class SessionKind { kShell, kRouted };

  struct DeviceConn {
    std::string device_id;
    Link* link = nullptr;
    std::set<ConnId> operators;
    std::map<std::string, ConnId, std::less<>> sid_owner;
    // Operators whose queue is over the high-water mark; while non-empty the hub
    // stops reading from the device (which then stops reading its PTYs).
    std::set<ConnId> slow_operators;
    // Sids the hub recently sent an unsolicited `stop` for (bounded).
    std::deque<std::string> stopped_orphans;
  };
  struct OperatorConn {
    std::string user;
    ConnId device = 0;
    Link* link = nullptr;
    std::map<std::string, SessionKind, std::less<>> sessions;
  };

  // Device side.
  void device_control(DeviceConn& dev, protocol::ProtoMsg& msg);
  void device_shell(DeviceConn& dev, protocol::ProtoMsg& msg);
  void device_routed(DeviceConn& dev, protocol::ProtoMsg& msg);
  void device_monitoring(DeviceConn& dev, const protocol::ProtoMsg& msg);
  void detach_operators(ConnId device_conn, DeviceConn& dev, const std::string& why);
  void to_owner(DeviceConn& dev, const protocol::ProtoMsg& msg, bool forget_sid);
  void stop_orphan(DeviceConn& dev, const std::string& sid);

  // Operator side.
  void operator_control(ConnId conn, OperatorConn& op, DeviceConn& dev, protocol::ProtoMsg& msg);
  void operator_shell(ConnId conn, OperatorConn& op, DeviceConn& dev, protocol::ProtoMsg& msg);
  bool claim(ConnId conn, OperatorConn& op, DeviceConn& dev, protocol::ProtoMsg& msg,
             SessionKind kind);
  bool owns(ConnId conn, const OperatorConn& op, const protocol::ProtoMsg& msg);
  void forget(DeviceConn& dev, OperatorConn& op, const std::string& sid);
  void to_device(DeviceConn& dev, OperatorConn& op, protocol::ProtoMsg& msg, bool urgent);
  void to_operator(ConnId conn, OperatorConn& op, const protocol::ProtoMsg& msg);

  static void send_error(Link& link, const std::string& err, bool close,
                         const protocol::ProtoHdr* about);

  Store& store_;
  const Limits& limits_;
  const Logger& log_;
  std::map<ConnId, DeviceConn> devices_;
  std::map<std::string, ConnId, std::less<>> by_device_;
  std::map<ConnId, OperatorConn> operators_;
};

std::int64_t now_ms();

}  // namespace tether::hub
