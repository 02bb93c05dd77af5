// libFuzzer target: every update body decoder, each on the same input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/update.hpp"
#include "tests/fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::protocol;
  const std::span<const std::uint8_t> body(data, size);
  fuzz::check_schema<UpdateOffer>(body);
  fuzz::check_schema<UpdateProgress>(body);
  fuzz::check_schema<UpdateConsent>(body);
  fuzz::check_schema<UpdateCancel>(body);
  fuzz::check_schema<UpdateAck>(body);
  return 0;
}
