// Properties every fuzz target asserts beyond "does not crash": whatever decodes
// re-encodes to bytes that decode again to the same encoding. A violation aborts,
// which libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "protocol/value.hpp"

namespace tether::protocol::fuzz {

inline void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

// For a body schema: decode; if that worked, encode, decode the encoding, and
// require the second encoding to equal the first. Bytes are compared rather than
// structs because a NaN in a Map is never equal to itself.
template <typename Schema>
void check_schema(std::span<const std::uint8_t> data) {
  auto decoded = Schema::decode(data);
  if (!decoded.ok()) return;
  const Bytes once = decoded->encode();
  auto again = Schema::decode(once);
  require(again.ok(), "a schema's own encoding does not decode");
  require(again->encode() == once, "a schema's encoding is not stable");
}

}  // namespace tether::protocol::fuzz
