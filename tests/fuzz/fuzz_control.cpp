// libFuzzer target: every control body decoder, each on the same input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/control.hpp"
#include "tests/fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::protocol;
  const std::span<const std::uint8_t> body(data, size);
  fuzz::check_schema<ControlOpen>(body);
  fuzz::check_schema<ControlAccept>(body);
  fuzz::check_schema<ControlError>(body);
  return 0;
}
