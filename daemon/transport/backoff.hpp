// Reconnect pacing: exponential backoff with full jitter (a random wait in
// [0, min(cap, base * 2^n)]), so that a fleet that lost its backend at the same
// moment does not come back in lockstep.
//
// Why a floor: full jitter can draw 0 ms, and a backend that accepts then drops
// at once would be re-dialled in a tight loop. Every wait after a failure is at
// least min(floor, cap) (100 ms by default). The cap (server.backoff-max) bounds
// every wait, floor and jitter included.
//
// Why reset only after a stable connection: a backend that accepts the WebSocket
// and closes it straight away must still see growing waits, so success is not the
// handshake but a connection that stayed up for `stable_after` (the caller decides
// and calls reset()).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace tether::daemon::transport {

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds base{1000};
    std::chrono::milliseconds cap{300'000};
    std::chrono::milliseconds floor{100};
  };

  explicit Backoff(const Options& options, std::uint64_t seed = std::random_device{}());

  // The wait before the next dial after a failure; each call counts one failure.
  std::chrono::milliseconds next_delay();
  // The ceiling the next call will draw under (for logs and tests).
  std::chrono::milliseconds current_ceiling() const;
  // Forgets the failures: the next wait draws from [floor, base] again.
  void reset() { failures_ = 0; }
  std::uint32_t failures() const { return failures_; }

 private:
  Options options_;
  std::uint32_t failures_ = 0;
  std::mt19937_64 random_;
};

}  // namespace tether::daemon::transport
