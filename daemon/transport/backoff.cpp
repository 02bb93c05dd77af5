#include "daemon/transport/backoff.hpp"

#include <algorithm>

namespace tether::daemon::transport {

Backoff::Backoff(const Options& options, std::uint64_t seed) : options_(options), random_(seed) {
  if (options_.cap.count() < 1) options_.cap = std::chrono::milliseconds(1);
  if (options_.base.count() < 1) options_.base = std::chrono::milliseconds(1);
}

std::chrono::milliseconds Backoff::current_ceiling() const {
  // base * 2^failures, saturating well before overflow.
  const std::int64_t cap = options_.cap.count();
  std::int64_t ceiling = options_.base.count();
  for (std::uint32_t i = 0; i < failures_ && ceiling < cap; ++i) ceiling *= 2;
  return std::chrono::milliseconds(std::min(ceiling, cap));
}

std::chrono::milliseconds Backoff::next_delay() {
  const std::int64_t ceiling = current_ceiling().count();
  const std::int64_t floor = std::min(options_.floor.count(), options_.cap.count());
  std::uniform_int_distribution<std::int64_t> draw(0, ceiling);
  const std::int64_t delay = std::max(draw(random_), floor);
  if (failures_ < 64) ++failures_;
  return std::chrono::milliseconds(std::min(delay, options_.cap.count()));
}

}  // namespace tether::daemon::transport
