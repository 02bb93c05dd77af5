#include "hub/operators/accounts.hpp"

#include <algorithm>
#include <utility>

#include "hub/auth.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

bool valid_account_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '@' || c == '-';
  });
}

Status Accounts::load() {
  auto reloaded = reload();
  if (!reloaded.ok()) return reloaded.error();
  return Status::Ok();
}

Result<std::vector<EndedAccount>> Accounts::reload() {
  auto accounts = store_.accounts();
  if (!accounts.ok()) return accounts.error().wrap("loading operator accounts");
  auto tokens = store_.tokens();
  if (!tokens.ok()) return tokens.error().wrap("loading API tokens");
  std::map<std::string, Account, std::less<>> fresh;
  for (auto& a : *accounts) {
    // A stored account of the config admin's name is shadowed by the config.
    if (a.name == config_admin_) continue;
    fresh.emplace(a.name, std::move(a));
  }
  std::vector<EndedAccount> ended;
  for (const auto& [name, before] : accounts_) {
    auto now = fresh.find(name);
    if (now == fresh.end()) {
      ended.push_back({name, "account deleted"});
    } else if (now->second.disabled && !before.disabled) {
      ended.push_back({name, "account disabled"});
    } else if (now->second.role != before.role) {
      ended.push_back({name, "account role changed"});
    }
  }
  accounts_ = std::move(fresh);
  tokens_by_hash_.clear();
  for (auto& t : *tokens) tokens_by_hash_.emplace(t.token_sha256, std::move(t));
  return ended;
}

void Accounts::changed() const {
  if (news_ != nullptr) news_->accounts_changed();
}

const Account* Accounts::find(std::string_view name) const {
  if (!config_admin_.empty() && name == config_admin_) {
    return &config_account_;
  }
  auto it = accounts_.find(name);
  return it == accounts_.end() ? nullptr : &it->second;
}

std::vector<Account> Accounts::list() const {
  std::vector<Account> out;
  if (!config_admin_.empty()) out.push_back(*find(config_admin_));
  for (const auto& [name, a] : accounts_) out.push_back(a);
  return out;
}

Status Accounts::check_changeable(const std::string& name) const {
  if (is_config_admin(name)) {
    return Error(ErrorCode::kAccessDenied,
                 "the [operator] account is set in the config file; change it there");
  }
  if (accounts_.find(name) == accounts_.end()) {
    return Error(ErrorCode::kNotFound, "no account named " + name);
  }
  return Status::Ok();
}

Status Accounts::create(const std::string& name, Role role, const std::string& password_hash) {
  if (!valid_account_name(name)) {
    return Error(ErrorCode::kInvalidArgument, "an account name is 1-64 of A-Z a-z 0-9 . _ @ -");
  }
  if (is_config_admin(name) || accounts_.find(name) != accounts_.end()) {
    return Error(ErrorCode::kBusy, "an account named " + name + " exists");
  }
  if (accounts_.size() >= kMaxAccounts) return Error(ErrorCode::kBusy, "too many accounts");
  Account a{name, role, password_hash, false, now_ms()};
  auto added = store_.add_account(a);
  if (!added.ok()) return added.error();
  if (!*added) return Error(ErrorCode::kBusy, "an account named " + name + " exists");
  accounts_.emplace(name, std::move(a));
  changed();
  return Status::Ok();
}

Status Accounts::set_disabled(const std::string& name, bool disabled) {
  if (auto s = check_changeable(name); !s.ok()) return s;
  Account a = accounts_.at(name);
  a.disabled = disabled;
  if (auto s = store_.put_account(a); !s.ok()) return s;
  accounts_[name] = std::move(a);
  changed();
  return Status::Ok();
}

Status Accounts::set_role(const std::string& name, Role role) {
  if (auto s = check_changeable(name); !s.ok()) return s;
  Account a = accounts_.at(name);
  a.role = role;
  if (auto s = store_.put_account(a); !s.ok()) return s;
  accounts_[name] = std::move(a);
  changed();
  return Status::Ok();
}

Status Accounts::set_password_hash(const std::string& name, const std::string& password_hash) {
  if (auto s = check_changeable(name); !s.ok()) return s;
  Account a = accounts_.at(name);
  a.password_hash = password_hash;
  if (auto s = store_.put_account(a); !s.ok()) return s;
  accounts_[name] = std::move(a);
  changed();
  return Status::Ok();
}

Status Accounts::remove(const std::string& name) {
  if (auto s = check_changeable(name); !s.ok()) return s;
  if (auto s = store_.delete_account(name); !s.ok()) return s;
  accounts_.erase(name);
  std::erase_if(tokens_by_hash_, [&](const auto& kv) { return kv.second.user == name; });
  changed();
  return Status::Ok();
}

Result<NewToken> Accounts::create_token(const std::string& user, Role role,
                                        const std::string& label) {
  const Account* account = find(user);
  if (account == nullptr) return Error(ErrorCode::kNotFound, "no account named " + user);
  if (role > account->role) {
    return Error(ErrorCode::kAccessDenied, "a token cannot have more than its account's role (" +
                                               std::string(role_name(account->role)) + ")");
  }
  if (label.size() > 100) return Error(ErrorCode::kInvalidArgument, "label too long (100 bytes)");
  if (tokens(user).size() >= kMaxTokensPerAccount) {
    return Error(ErrorCode::kBusy, "too many tokens for " + user + "; revoke one first");
  }
  auto secret = random_hex(32);
  if (!secret.ok()) return secret.error();
  auto id = random_hex(8);
  if (!id.ok()) return id.error();
  NewToken made{*secret, ApiToken{*id, user, role, label, sha256_hex(*secret), now_ms()}};
  if (auto s = store_.put_token(made.record); !s.ok()) return s.error();
  tokens_by_hash_.emplace(made.record.token_sha256, made.record);
  changed();
  return made;
}

std::vector<ApiToken> Accounts::tokens(std::string_view user) const {
  std::vector<ApiToken> out;
  for (const auto& [hash, t] : tokens_by_hash_) {
    if (user.empty() || t.user == user) out.push_back(t);
  }
  std::sort(out.begin(), out.end(),
            [](const ApiToken& a, const ApiToken& b) { return a.created_ms < b.created_ms; });
  return out;
}

const ApiToken* Accounts::token_by_id(std::string_view id) const {
  for (const auto& [hash, t] : tokens_by_hash_) {
    if (constant_time_equal(t.id, id)) return &t;
  }
  return nullptr;
}

Status Accounts::revoke_token(const std::string& id) {
  const ApiToken* t = token_by_id(id);
  if (t == nullptr) return Error(ErrorCode::kNotFound, "no such token");
  const std::string hash = t->token_sha256;
  if (auto s = store_.delete_token(id); !s.ok()) return s;
  tokens_by_hash_.erase(hash);
  changed();
  return Status::Ok();
}

std::optional<Caller> Accounts::caller_for_token(std::string_view token) const {
  // The lookup is by the token's SHA-256: timing differences of the map search
  // tell an attacker about hashes, never about a token.
  if (token.size() != 64) return std::nullopt;
  auto it = tokens_by_hash_.find(sha256_hex(token));
  if (it == tokens_by_hash_.end()) return std::nullopt;
  auto owner = caller_for_user(it->second.user);
  if (!owner) return std::nullopt;
  owner->role = std::min(owner->role, it->second.role);
  return owner;
}

std::optional<Caller> Accounts::caller_for_user(std::string_view user) const {
  const Account* a = find(user);
  if (a == nullptr || a->disabled) return std::nullopt;
  return Caller{a->name, a->role};
}

}  // namespace tether::hub
