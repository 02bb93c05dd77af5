// The JSON API with everything it needs behind it, for unit tests: a real
// operator store (SQLite in a temporary directory, or the store.url given),
// accounts, sessions, the login limits and an inline password worker (answers
// before the call returns).
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "hub/auth.hpp"
#include "hub/http_api.hpp"
#include "hub/loop_inbox.hpp"
#include "hub/operators/accounts.hpp"
#include "hub/operators/accounts_api.hpp"
#include "hub/operators/login_limiter.hpp"
#include "hub/operators/operator_auth.hpp"
#include "hub/operators/operator_sessions.hpp"
#include "hub/operators/password_worker.hpp"
#include "hub/store/sql_operator_store.hpp"

namespace tether::hub::testing {

// A fast hash for tests (the hub's default is 200000 iterations).
inline std::string quick_hash(const std::string& password) {
  return *hash_password(password, 1000);
}

class ApiRig {
 public:
  ApiRig(Store& store, DeviceSide& devices, OperatorSide& operators, ServiceRegistry& services,
         AuditTrail audit, const Logger& log,
         const std::optional<sql::StoreUrl>& url = std::nullopt)
      : dir_(make_dir()),
        url_(url ? *url : sqlite_url(dir_)),
        operator_store_(open_store(url_)),
        accounts(*operator_store_, "admin", quick_hash("admin-password")),
        passwords(inbox, PasswordWorker::Mode::kInline),
        auth(accounts, sessions, passwords, limiter, operators, audit, 3600, log),
        accounts_api(accounts, auth, passwords, operator_store_.get(), audit, log),
        api(store, devices, operators, services, auth, accounts_api, audit, log) {}
  ~ApiRig() {
    operator_store_.reset();
    std::filesystem::remove_all(dir_);
  }

  SqlOperatorStore& store() { return *operator_store_; }
  const sql::StoreUrl& url() const { return url_; }

  // A login session cookie for `user` (no password check).
  std::string session_for(const std::string& user) { return *sessions.create(user); }

  HttpResponse call(const std::string& method, const std::string& path, const std::string& cookie,
                    const std::string& body = "{}") {
    HttpRequest req{method, path, cookie, "application/json", body};
    req.peer = "127.0.0.1";
    return api.handle(req);
  }
  HttpResponse call_with_token(const std::string& method, const std::string& path,
                               const std::string& token, const std::string& body = "{}") {
    HttpRequest req{method, path, std::nullopt, "application/json", body};
    req.authorization = "Bearer " + token;
    req.peer = "127.0.0.1";
    return api.handle(req);
  }

 private:
  static std::unique_ptr<SqlOperatorStore> open_store(const sql::StoreUrl& url) {
    auto opened = SqlOperatorStore::open(url);
    if (!opened.ok()) return nullptr;
    return std::move(*opened);
  }
  static sql::StoreUrl sqlite_url(const std::filesystem::path& dir) {
    sql::StoreUrl url;
    url.sqlite_dir = dir.string();
    url.redacted = "sqlite:" + url.sqlite_dir;
    return url;
  }
  static std::filesystem::path make_dir() {
    char tmpl[] = "/tmp/tether-hub-ops-XXXXXX";
    return ::mkdtemp(tmpl);
  }

  std::filesystem::path dir_;
  sql::StoreUrl url_;
  std::unique_ptr<SqlOperatorStore> operator_store_;

 public:
  LoopInbox inbox;
  Accounts accounts;
  OperatorSessions sessions{*operator_store_, std::chrono::seconds(3600), 64};
  LoginLimiter limiter;
  PasswordWorker passwords;
  OperatorAuth auth;
  AccountsApi accounts_api;
  HttpApi api;
};

}  // namespace tether::hub::testing
