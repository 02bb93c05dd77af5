// libFuzzer target: the bounded msgpack decoder under everything else.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/codec.hpp"
#include "tests/fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::protocol;
  auto value = decode_value(std::span(data, size));
  if (!value.ok()) return 0;
  const Bytes once = encode_value(*value);
  auto again = decode_value(once);
  fuzz::require(again.ok(), "an encoded value does not decode");
  fuzz::require(encode_value(*again) == once, "value encoding is not stable");
  return 0;
}
