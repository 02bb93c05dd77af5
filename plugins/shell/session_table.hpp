// The live sessions by sid, with the admission limits of daemon.md (max-sessions,
// max-per-user) and the "one shell per sid" rule.
//
// The per-user counts are derived from the table itself: an entry is counted from
// insert() to erase() and nowhere else, so no path (a failed start, a stop during
// teardown, a link drop) can leak a count the way mender-connect's counter did. A
// session that is still tearing down keeps counting, because its processes exist.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::plugins::shell {

template <typename Session>
class SessionTable {
 public:
  SessionTable(std::size_t max_sessions, std::size_t max_per_user)
      : max_sessions_(max_sessions), max_per_user_(max_per_user) {}

  // Why a new session `sid` for `user_id` may not start, or nullopt when it may.
  std::optional<std::string> refusal(std::string_view sid, std::string_view user_id) const {
    if (sessions_.find(sid) != sessions_.end()) {
      return std::string("session ") + std::string(sid) + " already exists";
    }
    if (sessions_.size() >= max_sessions_) {
      return "too many sessions (limit " + std::to_string(max_sessions_) + ")";
    }
    if (count_for_user(user_id) >= max_per_user_) {
      return "too many sessions for user " + std::string(user_id) + " (limit " +
             std::to_string(max_per_user_) + ")";
    }
    return std::nullopt;
  }

  // Adds a session; the caller has checked refusal() first.
  Session& insert(std::string sid, std::string user_id, std::unique_ptr<Session> session) {
    ++per_user_[user_id];
    Entry& entry = sessions_[std::move(sid)];
    entry.user_id = std::move(user_id);
    entry.session = std::move(session);
    return *entry.session;
  }

  Session* find(std::string_view sid) const {
    auto it = sessions_.find(sid);
    return it == sessions_.end() ? nullptr : it->second.session.get();
  }

  // Removes and returns the session, so the caller chooses when it is destroyed.
  std::unique_ptr<Session> erase(std::string_view sid) {
    auto it = sessions_.find(sid);
    if (it == sessions_.end()) {
      return nullptr;
    }
    auto user = per_user_.find(it->second.user_id);
    if (user != per_user_.end() && --user->second == 0) {
      per_user_.erase(user);
    }
    std::unique_ptr<Session> session = std::move(it->second.session);
    sessions_.erase(it);
    return session;
  }

  std::size_t size() const { return sessions_.size(); }
  bool empty() const { return sessions_.empty(); }

  std::size_t count_for_user(std::string_view user_id) const {
    auto it = per_user_.find(user_id);
    return it == per_user_.end() ? 0 : it->second;
  }

  // Sids of every session (of one user): copies, so that callers may erase while
  // walking them.
  std::vector<std::string> sids() const {
    std::vector<std::string> out;
    out.reserve(sessions_.size());
    for (const auto& [sid, entry] : sessions_) {
      out.push_back(sid);
    }
    return out;
  }
  std::vector<std::string> sids_of_user(std::string_view user_id) const {
    std::vector<std::string> out;
    for (const auto& [sid, entry] : sessions_) {
      if (entry.user_id == user_id) {
        out.push_back(sid);
      }
    }
    return out;
  }

 private:
  struct Entry {
    std::string user_id;
    std::unique_ptr<Session> session;
  };

  std::size_t max_sessions_;
  std::size_t max_per_user_;
  std::map<std::string, Entry, std::less<>> sessions_;
  std::map<std::string, std::size_t, std::less<>> per_user_;
};

}  // namespace tether::plugins::shell
