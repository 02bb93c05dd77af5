// Operator accounts and API tokens as the hub uses them: an in-memory view of the
// operator store (lookups on every request, without a database read), written
// through on every change. Several instances on one store each hold a view: every
// change made here is news for the others (OperatorNews), which reload(). The `[operator]` account
// of the configuration is the first admin: always present, always admin, its password from the
// config file; it cannot be disabled, deleted or changed from the API (edit the config).
//
// API tokens: 256 random bits as hex, handed out once; the hub keeps only their
// SHA-256. A token acts with its own role, never more than its account's current
// role, and stops working with its account (disabled, deleted) or when revoked.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/operators/caller.hpp"
#include "hub/operators/operator_news.hpp"
#include "hub/store/sql_operator_store.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

// 1..64 of [A-Za-z0-9._@-].
bool valid_account_name(std::string_view name);

// A token just made: the secret is in `token` (shown once), the rest is stored.
struct NewToken {
  std::string token;
  ApiToken record;
};

// An account whose login sessions and sockets must end after a reload, and why.
struct EndedAccount {
  std::string name;
  std::string why;  // "account deleted", "account disabled", "account role changed"
};

class Accounts {
 public:
  // Bounds on what an admin can make (the maps are in memory).
  static constexpr std::size_t kMaxAccounts = 1000;
  static constexpr std::size_t kMaxTokensPerAccount = 20;

  Accounts(SqlOperatorStore& store, std::string config_admin, std::string config_admin_hash)
      : store_(store),
        config_admin_(std::move(config_admin)),
        config_account_{config_admin_, Role::kAdmin, std::move(config_admin_hash), false, 0} {}

  // Reads the store into memory.
  Status load();
  // Reads the store again (another instance changed it) and tells which accounts
  // were deleted, disabled or given another role since the last read.
  Result<std::vector<EndedAccount>> reload();
  // Who hears of each change made through this object (nullptr: nobody).
  void set_news(OperatorNews* news) { news_ = news; }

  // nullptr when there is no such account. The config admin is included.
  const Account* find(std::string_view name) const;
  std::vector<Account> list() const;
  bool is_config_admin(std::string_view name) const { return name == config_admin_; }

  // kInvalidArgument (bad name), kBusy (exists or too many), kAccessDenied (the
  // config admin), kNotFound, kStorageFailure.
  Status create(const std::string& name, Role role, const std::string& password_hash);
  Status set_disabled(const std::string& name, bool disabled);
  Status set_role(const std::string& name, Role role);
  Status set_password_hash(const std::string& name, const std::string& password_hash);
  Status remove(const std::string& name);

  // A token for `user` with `role` (not above the account's role).
  Result<NewToken> create_token(const std::string& user, Role role, const std::string& label);
  // Tokens of `user`, or of everyone when `user` is empty.
  std::vector<ApiToken> tokens(std::string_view user) const;
  const ApiToken* token_by_id(std::string_view id) const;
  Status revoke_token(const std::string& id);

  // The caller a bearer token stands for, if it is valid and its account enabled.
  std::optional<Caller> caller_for_token(std::string_view token) const;
  // The caller behind an account name (a login session), if it exists and is enabled.
  std::optional<Caller> caller_for_user(std::string_view user) const;

 private:
  Status check_changeable(const std::string& name) const;
  void changed() const;

  SqlOperatorStore& store_;
  std::string config_admin_;
  Account config_account_;
  OperatorNews* news_ = nullptr;
  std::map<std::string, Account, std::less<>> accounts_;
  std::map<std::string, ApiToken, std::less<>> tokens_by_hash_;
};

}  // namespace tether::hub
