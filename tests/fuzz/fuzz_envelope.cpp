// libFuzzer target: the ProtoMsg envelope, as every inbound WebSocket message is.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/message.hpp"
#include "tests/fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::protocol;
  auto msg = decode(std::span(data, size));
  if (!msg.ok()) return 0;
  const Bytes once = encode(*msg);
  auto again = decode(once);
  fuzz::require(again.ok(), "an encoded envelope does not decode");
  fuzz::require(encode(*again) == once, "envelope encoding is not stable");
  return 0;
}
