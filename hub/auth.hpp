// Credentials: device tokens (kept only as SHA-256), the operator's password
// (PBKDF2-HMAC-SHA256 with a random salt) and operator login sessions (random
// cookies held in memory; a hub restart logs everyone out).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace tether::hub {

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// `bytes` random bytes from OpenSSL's CSPRNG as lower-case hex.
Result<std::string> random_hex(std::size_t bytes);

// "pbkdf2-sha256$ITERATIONS$SALTHEX$HASHHEX".
Result<std::string> hash_password(std::string_view password, std::uint32_t iterations = 200000);

// Checks `password` against a hash made by hash_password, in constant time with
// respect to the stored hash. A malformed stored hash is an error, not a mismatch.
Result<bool> verify_password(std::string_view password, std::string_view stored);

// Compares two strings without early exit on the first difference.
bool constant_time_equal(std::string_view a, std::string_view b);

// Logged-in operators. Session ids are 256-bit random hex strings.
class OperatorSessions {
 public:
  using Clock = std::chrono::steady_clock;

  OperatorSessions(std::chrono::seconds ttl, std::size_t max_sessions)
      : ttl_(ttl), max_sessions_(max_sessions) {}

  // Creates a session for `user`, evicting the oldest when full.
  Result<std::string> create(const std::string& user, Clock::time_point now = Clock::now());
  // The user of a live session, else nullopt (expired sessions are removed).
  std::optional<std::string> user_of(std::string_view session_id,
                                     Clock::time_point now = Clock::now());
  void remove(std::string_view session_id);
  // Ends every session of `user` (account disabled, deleted, role changed).
  // Returns how many.
  std::size_t remove_user(std::string_view user);
  std::size_t size() const { return sessions_.size(); }

 private:
  struct Entry {
    std::string user;
    Clock::time_point created;
  };
  std::chrono::seconds ttl_;
  std::size_t max_sessions_;
  std::map<std::string, Entry, std::less<>> sessions_;
};

}  // namespace tether::hub
