// Who is calling: login (asynchronous, the password check runs on the
// PasswordWorker), the caller behind a session cookie or an API token, and the
// end of every session of an account that was disabled, deleted or changed,
// whether here or (refresh) on another instance of a cluster.
//
// Login, in order: the per-address and per-account limits (LoginLimiter; 429
// when spent), then the password check off the loop. A name without an account
// is checked against a stand-in hash so that it takes as long as a wrong
// password; names and hashes are compared in constant time. Every attempt is in
// the audit trail with the client's address.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "hub/auth.hpp"
#include "hub/config.hpp"
#include "hub/http_types.hpp"
#include "hub/operators/accounts.hpp"
#include "hub/operators/audit.hpp"
#include "hub/operators/caller.hpp"
#include "hub/operators/login_limiter.hpp"
#include "hub/operators/operator_news.hpp"
#include "hub/operators/operator_sessions.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/operators/password_worker.hpp"

namespace tether::hub {

inline constexpr const char* kSessionCookie = "tether_session";

// An asynchronous HTTP answer; runs on the loop thread.
using HttpReply = std::function<void(HttpResponse)>;

HttpResponse json_error(unsigned status, const std::string& message);

class OperatorAuth {
 public:
  OperatorAuth(Accounts& accounts, OperatorSessions& sessions, PasswordWorker& passwords,
               LoginLimiter& limiter, OperatorSide& operators, AuditTrail audit,
               std::uint32_t session_ttl_s, const Logger& log)
      : accounts_(accounts),
        sessions_(sessions),
        passwords_(passwords),
        limiter_(limiter),
        operators_(operators),
        audit_(audit),
        session_ttl_s_(session_ttl_s),
        log_(log) {}

  // The caller behind a session cookie, else behind "Bearer <token>".
  // `via_token` (optional) tells which it was.
  std::optional<Caller> caller_for(const std::optional<std::string>& cookie,
                                   const std::optional<std::string>& authorization,
                                   bool* via_token = nullptr);

  // POST /api/login; `done` may run before this returns (inline worker, refusal).
  void login(const HttpRequest& request, const HttpReply& done);
  // POST /api/logout of the request's session.
  HttpResponse logout(const HttpRequest& request, const Caller& caller);

  // Logs `user` out everywhere and closes its operator sockets (their shells stop).
  void end_sessions_of(const std::string& user, const std::string& why);

  // Who hears of changes to accounts, tokens and sessions made here (nullptr: nobody).
  void set_news(OperatorNews* news);
  // Another instance changed accounts or tokens, or news may have been missed:
  // reads them again and ends the sessions and sockets here of the accounts
  // deleted, disabled or given another role. `forget_sessions` also drops the
  // session cache, so that each cookie is checked in the store again.
  Status refresh(bool forget_sessions);
  // Another instance ended the session with this cookie hash (logout).
  void forget_session(const std::string& session_sha256) { sessions_.forget(session_sha256); }
  // Another instance ended every session of `user` (and removed their rows): the
  // cached ones go and the user's sockets here close.
  void sessions_of_user_ended(const std::string& user, const std::string& why);

  std::string session_cookie(const std::string& value, std::uint32_t max_age) const;

 private:
  // A login that names no account known here reads the accounts again first, at
  // most once per kUnknownNameReload: `tether-hub --add-operator` writes to the
  // store while the hub runs (and, with several instances, tells none of them),
  // so its account can log in at once. The bound keeps a stream of logins with
  // made-up names (already slowed by the LoginLimiter) from turning into store
  // reads.
  static constexpr std::chrono::seconds kUnknownNameReload{10};
  const Account* find_after_reload(const std::string& name);

  Accounts& accounts_;
  OperatorSessions& sessions_;
  PasswordWorker& passwords_;
  LoginLimiter& limiter_;
  OperatorSide& operators_;
  AuditTrail audit_;
  std::uint32_t session_ttl_s_;
  const Logger& log_;
  std::optional<LoginLimiter::Clock::time_point> reloaded_for_unknown_name_;
};

}  // namespace tether::hub
