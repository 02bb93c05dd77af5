// The JSON routes of accounts, API tokens and the audit trail:
//
//   GET  /api/accounts                       admin   [{name, role, disabled, created, config}]
//   POST /api/accounts                       admin   {name, role, password} -> 201
//   POST /api/accounts/{name}/role           admin   {role}
//   POST /api/accounts/{name}/disable        admin   (its sessions and sockets end)
//   POST /api/accounts/{name}/enable         admin
//   POST /api/accounts/{name}/delete         admin   (with its tokens; sessions end)
//   POST /api/accounts/{name}/password       admin, or the account itself {password}
//   GET  /api/tokens                         viewer  own tokens (admin: ?all=1 for all)
//   POST /api/tokens                         {label, role, user?}: own tokens from a login
//                                            session (not with a token); admin for others
//                                            -> 201 {id, token} (the token is shown once)
//   POST /api/tokens/{id}/revoke             the owner (login session) or admin
//   GET  /api/audit                          admin   ?user=&device=&action=&from=&to=
//                                                    &before=&limit=&format=jsonl
#pragma once

#include <optional>
#include <string>

#include "hub/operators/accounts.hpp"
#include "hub/operators/operator_auth.hpp"
#include "hub/operators/password_worker.hpp"
#include "hub/store/sql_operator_store.hpp"

namespace tether::hub {

class AccountsApi {
 public:
  AccountsApi(Accounts& accounts, OperatorAuth& auth, PasswordWorker& passwords,
              SqlOperatorStore* store, AuditTrail audit, const Logger& log)
      : accounts_(accounts),
        auth_(auth),
        passwords_(passwords),
        store_(store),
        audit_(audit),
        log_(log) {}

  // false: not one of these routes (done is not called).
  bool handle(const HttpRequest& request, const Caller& caller, bool via_token, HttpReply& done);

 private:
  void accounts_route(const HttpRequest& req, const Caller& caller, HttpReply& done);
  void tokens_route(const HttpRequest& req, const Caller& caller, bool via_token, HttpReply& done);
  HttpResponse audit_route(const HttpRequest& req, const Caller& caller);
  void fail(const Status& status, const std::string& what, HttpReply& done);

  Accounts& accounts_;
  OperatorAuth& auth_;
  PasswordWorker& passwords_;
  SqlOperatorStore* store_;  // null: no audit reads (tests without a store)
  AuditTrail audit_;
  const Logger& log_;
};

}  // namespace tether::hub
