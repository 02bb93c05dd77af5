// The audit trail's one interface: who did what, when, to which device, and how
// it ended. Services reach it as `context.audit.record({...})`; the hub's own
// parts (login, the JSON API, admission) use the same call. Recording never
// blocks and never fails toward the caller: the sink queues the event and writes
// it off the loop (a full queue drops and counts, see SqlOperatorStore).
//
// Actions are short dotted names; the ones the hub records today:
//   login, logout, shell.open, shell.close, session.open (file transfer / port
//   forward through a routed `open`), session.close, api.write (every JSON API
//   write, whatever service answered it), account.create / .disable / .enable /
//   .delete / .password / .role, token.create / .revoke, device.register,
//   device.token, config.push, command, update.offer, update.consent.
// Outcomes: "ok", "denied" (a role or a credential was refused), "failed",
// "refused" (the device or a limit said no).
#pragma once

#include <cstdint>
#include <string>

namespace tether::hub {

struct AuditEvent {
  std::string user;     // the operator (account name); "" when unknown (a failed login)
  std::string action;   // see above
  std::string device;   // "" when no device is concerned
  std::string outcome;  // "ok", "denied", "failed", "refused"
  // What else there is to know, short and human-readable ("path=/etc/hosts",
  // "duration_s=12 exit_code=0", "POST /api/devices/gw/config -> 200").
  std::string detail;
  std::string address;     // the client's address when the event comes from a request
  std::int64_t at_ms = 0;  // 0: now (set by the trail)
};

// Where events go (the store in production, a recorder in tests).
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Loop thread; must not block.
  virtual void record(AuditEvent event) = 0;
};

// The handle services hold (by value, inside ServiceContext). Without a sink it
// drops events, so a ServiceContext built without one stays valid.
struct AuditTrail {
  AuditSink* sink = nullptr;
  void record(AuditEvent event) const;
};

}  // namespace tether::hub
