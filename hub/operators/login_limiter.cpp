#include "hub/operators/login_limiter.hpp"

#include <algorithm>

namespace tether::hub {

LoginLimiter::Bucket& LoginLimiter::bucket(Buckets& buckets, std::string_view key, const Rate& rate,
                                           Clock::time_point now) {
  auto it = buckets.find(key);
  if (it == buckets.end()) {
    if (buckets.size() >= max_entries_) {
      auto fullest = buckets.begin();
      double fullest_tokens = -1;
      for (auto b = buckets.begin(); b != buckets.end(); ++b) {
        const double refilled =
            b->second.tokens +
            std::chrono::duration<double>(now - b->second.at).count() * rate.per_second;
        if (refilled > fullest_tokens) {
          fullest_tokens = refilled;
          fullest = b;
        }
      }
      buckets.erase(fullest);
    }
    it = buckets.emplace(std::string(key), Bucket{rate.burst, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(rate.burst, b.tokens + std::max(0.0, elapsed) * rate.per_second);
  b.at = now;
  return b;
}

bool LoginLimiter::begin(std::string_view address, std::string_view account,
                         Clock::time_point now) {
  Bucket& by_address = bucket(addresses_, address, per_address_, now);
  if (by_address.tokens < 1) return false;
  Bucket& by_account = bucket(accounts_, account, per_account_, now);
  if (by_account.tokens < 1) return false;
  by_address.tokens -= 1;
  by_account.tokens -= 1;
  return true;
}

void LoginLimiter::succeeded(std::string_view address, std::string_view account,
                             Clock::time_point now) {
  Bucket& by_address = bucket(addresses_, address, per_address_, now);
  by_address.tokens = std::min(per_address_.burst, by_address.tokens + 1);
  Bucket& by_account = bucket(accounts_, account, per_account_, now);
  by_account.tokens = std::min(per_account_.burst, by_account.tokens + 1);
}

}  // namespace tether::hub
