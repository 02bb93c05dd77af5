// Login attempts, limited per client address and per account name with token
// buckets (not globally, so a flood from one place cannot keep everyone out).
//
// An attempt takes a token from its address's bucket and its account's bucket
// when it starts (so parallel attempts count before any password is checked); a
// successful login gives both back. The address buckets are stricter than the
// account buckets, so one address can only ever spend a small part of an
// account's allowance. Both maps are bounded: when one is full, the entry that
// has the most tokens (forgetting it changes least) makes room.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace tether::hub {

class LoginLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Rate {
    double per_second;
    double burst;
  };
  static constexpr Rate kDefaultPerAddress{0.2, 10};
  static constexpr Rate kDefaultPerAccount{0.5, 30};
  static constexpr std::size_t kDefaultMaxEntries = 4096;

  LoginLimiter(Rate per_address = kDefaultPerAddress, Rate per_account = kDefaultPerAccount,
               std::size_t max_entries = kDefaultMaxEntries)
      : per_address_(per_address), per_account_(per_account), max_entries_(max_entries) {}

  // Whether an attempt may go ahead; if so, it is counted.
  bool begin(std::string_view address, std::string_view account, Clock::time_point now);
  // The attempt succeeded: what it took is given back.
  void succeeded(std::string_view address, std::string_view account, Clock::time_point now);

  std::size_t addresses() const { return addresses_.size(); }
  std::size_t accounts() const { return accounts_.size(); }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  using Buckets = std::map<std::string, Bucket, std::less<>>;
  Bucket& bucket(Buckets& buckets, std::string_view key, const Rate& rate, Clock::time_point now);

  Rate per_address_;
  Rate per_account_;
  std::size_t max_entries_;
  Buckets addresses_;
  Buckets accounts_;
};

}  // namespace tether::hub
