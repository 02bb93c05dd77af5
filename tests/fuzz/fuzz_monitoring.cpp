// libFuzzer target: every monitoring body decoder, each on the same input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/monitoring.hpp"
#include "tests/fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::protocol;
  const std::span<const std::uint8_t> body(data, size);
  fuzz::check_schema<monitoring::Status>(body);
  fuzz::check_schema<monitoring::DataRecord>(body);
  fuzz::check_schema<monitoring::AlertRecord>(body);
  fuzz::check_schema<monitoring::DroppedRecord>(body);
  fuzz::check_schema<monitoring::Ack>(body);
  return 0;
}
