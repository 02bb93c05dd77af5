#include "hub/sim/mask_keys.hpp"

#include <openssl/rand.h>

#include <algorithm>

namespace tether::sim {

Result<daemon::transport::MaskKey> MaskKeys::next() {
  if (used_ == buffer_.size()) {
    if (RAND_bytes(buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      return daemon::transport::random_mask_key();
    }
    used_ = 0;
  }
  daemon::transport::MaskKey key{};
  std::copy_n(buffer_.begin() + static_cast<std::ptrdiff_t>(used_), kKeySize, key.begin());
  used_ += kKeySize;
  return key;
}

}  // namespace tether::sim
