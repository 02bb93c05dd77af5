// The shell relay (proto 0x0001), as Mender's deviceconnect does it:
//
// - Operator -> device: `new` claims its sid for the operator socket (the hub makes
//   one up when it is empty; over the session limits the operator gets `new` with
//   status 2 instead). `shell`, `resize`, `stop` and `pong` need the sid to be the
//   operator's. `stop` without a sid stops all of this socket's shells, never
//   another operator's.
// - Device -> hub: `ping` is answered with `pong`; `new`, `shell` and `stop` go to
//   the operator owning the sid; output for a sid nobody owns is answered once
//   with a `stop` (the last 64 such sids per device are remembered).
// - An operator gone: its shells are stopped on the device. A device gone: each
//   shell's operator gets `stop` with status 2.
// - Audit: shell.open when the device answers `new` (ok or failed), shell.close
//   when the shell ends (device `stop`, operator gone, device gone) with its
//   duration and the exit code when the device reports one.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <utility>

#include "hub/services/protocol_service.hpp"

namespace tether::hub {

class ShellRelay final : public ProtocolService {
 public:
  explicit ShellRelay(ServiceContext context) : context_(context) {}

  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;
  bool on_operator_message(OperatorId op, protocol::ProtoMsg& msg) override;
  void on_device_offline(const std::string& device_id) override;
  void on_session_abandoned(const std::string& device_id, const std::string& user,
                            const std::string& sid) override;
  void on_session_lost(OperatorId op, const std::string& sid, const std::string& why) override;

 private:
  void stop_orphan(const std::string& device_id, const std::string& sid);
  // Records shell.close for a tracked shell and stops tracking it.
  void audit_close(const std::string& device_id, const std::string& sid, const std::string& outcome,
                   const std::string& detail);

  struct TrackedShell {
    std::string user;
    std::chrono::steady_clock::time_point started;
  };

  ServiceContext context_;
  // Per online device: sids recently sent an unsolicited `stop` (bounded).
  std::map<std::string, std::deque<std::string>, std::less<>> stopped_orphans_;
  // Shells asked for or open, by (device, sid), for the audit trail. Bounded by
  // the session limits: an entry exists only while the operator side owns the sid.
  std::map<std::pair<std::string, std::string>, TrackedShell> shells_;
};

}  // namespace tether::hub
