// libFuzzer target: every config body decoder, each on the same input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/config.hpp"
#include "tests/fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::protocol;
  const std::span<const std::uint8_t> body(data, size);
  fuzz::check_schema<ConfigSet>(body);
  fuzz::check_schema<ConfigApplied>(body);
  fuzz::check_schema<ConfigCurrent>(body);
  fuzz::check_schema<ConfigError>(body);
  return 0;
}
