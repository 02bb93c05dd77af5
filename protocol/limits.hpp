// Bounds on what one decode may consume. Every byte on the wire comes from a peer
// that may be hostile, so the decoder refuses anything that would nest too deep,
// claim more entries than the message could hold, or expand in memory far beyond
// its own size.
#pragma once

#include <cstddef>

namespace tether::protocol {

struct DecodeLimits {
  // Nesting depth of maps and arrays (the top-level container is depth 1).
  std::size_t max_depth = 32;
  // Entries per map or array.
  std::size_t max_container_entries = 65536;
  // Memory one decoded value may occupy, as a multiple of the encoded size plus a
  // constant. A decoded node costs a few dozen bytes however small its encoding is,
  // so the factor is what keeps "a million nils" from becoming a million nodes.
  std::size_t expansion_factor = 48;
  std::size_t expansion_slack = 4096;
};

}  // namespace tether::protocol
