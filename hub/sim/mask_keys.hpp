// Masking keys for tether-sim's client frames (RFC 6455 section 5.3), drawn from
// OpenSSL's generator a few kilobytes at a time instead of one RAND_bytes call per
// frame. With 10 000 devices each frame is one small record, and RAND_bytes per
// frame (its locking, fork check and DRBG set-up for 4 bytes) was 28 % of the
// simulator's CPU while it ingested (docs/performance.md "Fleet size"). The keys
// still come from the same generator: unpredictable, just fetched in bulk.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "daemon/transport/websocket_frame.hpp"
#include "protocol/result.hpp"

namespace tether::sim {

class MaskKeys {
 public:
  // Keys fetched per refill.
  static constexpr std::size_t kKeysPerRefill = 1024;

  // The next key. When OpenSSL cannot fill the buffer it falls back to one key at
  // a time from random_mask_key() (getrandom), and to its error when that fails too.
  Result<daemon::transport::MaskKey> next();

 private:
  static constexpr std::size_t kKeySize = std::tuple_size_v<daemon::transport::MaskKey>;
  std::array<std::uint8_t, kKeysPerRefill * kKeySize> buffer_{};
  std::size_t used_ = buffer_.size();  // empty: the first next() refills
};

}  // namespace tether::sim
