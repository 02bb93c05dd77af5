// Logged-in operators. A session cookie is 256 random bits as hex, handed to the
// browser once; the operator store keeps only its SHA-256 with the user and the
// expiry (operator_sessions), so every instance on the same database knows the
// session and it outlives the instance that made it.
//
// This object is a bounded cache of those rows, keyed by the cookie's hash. A
// cookie not in the cache is looked up in the store once; one found nowhere is
// remembered as unknown (a cookie is stored before it is handed out, so an
// unknown one never becomes valid), so garbage cookies cost one read each at most.
// Sessions live `ttl` from login, not from last use.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "hub/operators/operator_news.hpp"
#include "hub/store/sql_operator_store.hpp"
#include "hub/store/store.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

class OperatorSessions {
 public:
  // Sessions one account may hold (browsers, machines); its oldest go first.
  static constexpr std::size_t kMaxSessionsPerAccount = 32;
  // Unknown cookies remembered, so that each costs one store read.
  static constexpr std::size_t kMaxRememberedUnknown = 1024;

  // `max_sessions` bounds both the sessions stored (of every instance together)
  // and those cached here.
  OperatorSessions(SqlOperatorStore& store, std::chrono::seconds ttl, std::size_t max_sessions,
                   std::size_t max_per_account = kMaxSessionsPerAccount)
      : store_(store),
        ttl_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count()),
        max_sessions_(max_sessions),
        max_per_account_(max_per_account) {}

  // Who hears of logouts and of the sessions of a user ended (nullptr: nobody).
  void set_news(OperatorNews* news) { news_ = news; }

  // Stores a new session for `user` and returns its cookie.
  Result<std::string> create(const std::string& user, std::int64_t now = now_ms());
  // The user of a live session, else nullopt (also when the store cannot be read).
  std::optional<std::string> user_of(std::string_view cookie, std::int64_t now = now_ms());
  // Logout: the session ends on every instance.
  Status remove(std::string_view cookie);
  // Ends every session of `user` (account disabled, deleted, role changed).
  Status remove_user(const std::string& user);
  // Another instance ended this session, or every session of `user`.
  void forget(const std::string& session_sha256);
  void forget_user(const std::string& user);
  // News may have been missed: every cookie is checked in the store again.
  void forget_all();
  std::size_t cached() const { return cache_.size(); }

 private:
  struct Entry {
    std::string user;
    std::int64_t created_ms = 0;
    std::int64_t expires_ms = 0;
  };
  void cache(const std::string& hash, Entry entry);
  void remember_unknown(const std::string& hash);

  SqlOperatorStore& store_;
  std::int64_t ttl_ms_;
  std::size_t max_sessions_;
  std::size_t max_per_account_;
  OperatorNews* news_ = nullptr;
  std::map<std::string, Entry, std::less<>> cache_;
  std::set<std::string, std::less<>> unknown_;
  std::deque<std::string> unknown_order_;
};

}  // namespace tether::hub
