#include "hub/operators/operator_sessions.hpp"

#include <algorithm>
#include <utility>

#include "hub/auth.hpp"

namespace tether::hub {

namespace {

// What create() hands out: 64 lower-case hex digits. Anything else is not looked up.
bool well_formed(std::string_view cookie) {
  return cookie.size() == 64 && std::all_of(cookie.begin(), cookie.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

Result<std::string> OperatorSessions::create(const std::string& user, std::int64_t now) {
  auto cookie = random_hex(32);
  if (!cookie.ok()) return cookie.error().wrap("creating a login session");
  const std::string hash = sha256_hex(*cookie);
  StoredSession row{hash, user, now, now + ttl_ms_};
  if (auto s = store_.put_session(row, max_per_account_, max_sessions_, now); !s.ok()) {
    return s.error().wrap("creating a login session");
  }
  cache(hash, Entry{user, now, now + ttl_ms_});
  return *cookie;
}

void OperatorSessions::cache(const std::string& hash, Entry entry) {
  std::size_t of_user = 0;
  for (const auto& [h, e] : cache_) {
    if (e.user == entry.user) ++of_user;
  }
  // The same bounds as the store, oldest first: the account's own, then everyone's.
  while (!cache_.empty() && (cache_.size() >= max_sessions_ || of_user >= max_per_account_)) {
    const bool of_account = of_user >= max_per_account_;
    auto oldest = cache_.end();
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (of_account && it->second.user != entry.user) continue;
      if (oldest == cache_.end() || it->second.created_ms < oldest->second.created_ms) oldest = it;
    }
    if (oldest == cache_.end()) break;
    if (oldest->second.user == entry.user) --of_user;
    cache_.erase(oldest);
  }
  cache_[hash] = std::move(entry);
}

void OperatorSessions::remember_unknown(const std::string& hash) {
  if (!unknown_.insert(hash).second) return;
  unknown_order_.push_back(hash);
  while (unknown_order_.size() > kMaxRememberedUnknown) {
    unknown_.erase(unknown_order_.front());
    unknown_order_.pop_front();
  }
}

std::optional<std::string> OperatorSessions::user_of(std::string_view cookie, std::int64_t now) {
  if (!well_formed(cookie)) return std::nullopt;
  const std::string hash = sha256_hex(cookie);
  if (auto it = cache_.find(hash); it != cache_.end()) {
    if (now >= it->second.expires_ms) {
      cache_.erase(it);
      return std::nullopt;
    }
    return it->second.user;
  }
  if (unknown_.count(hash) != 0) return std::nullopt;
  auto stored = store_.session(hash, now);
  if (!stored.ok()) return std::nullopt;  // not remembered: the store may be back soon
  if (!stored->has_value()) {
    remember_unknown(hash);
    return std::nullopt;
  }
  const StoredSession& s = **stored;
  cache(hash, Entry{s.user, s.created_ms, s.expires_ms});
  return s.user;
}

Status OperatorSessions::remove(std::string_view cookie) {
  if (!well_formed(cookie)) return Status::Ok();
  const std::string hash = sha256_hex(cookie);
  cache_.erase(hash);
  if (auto s = store_.delete_session(hash); !s.ok()) return s;
  if (news_ != nullptr) news_->session_ended(hash);
  return Status::Ok();
}

Status OperatorSessions::remove_user(const std::string& user) {
  forget_user(user);
  if (auto s = store_.delete_sessions_of(user); !s.ok()) return s;
  if (news_ != nullptr) news_->sessions_of_user_ended(user);
  return Status::Ok();
}

void OperatorSessions::forget_user(const std::string& user) {
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.user == user; });
}

void OperatorSessions::forget(const std::string& session_sha256) {
  cache_.erase(session_sha256);
}

void OperatorSessions::forget_all() {
  cache_.clear();
}

}  // namespace tether::hub
