// libFuzzer target: every command body decoder, each on the same input, and the
// id peek that lets an undecodable request still be answered `invalid`.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/command.hpp"
#include "tests/fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::protocol;
  const std::span<const std::uint8_t> body(data, size);
  fuzz::check_schema<command::Request>(body);
  fuzz::check_schema<command::ResultBody>(body);
  fuzz::check_schema<command::Ack>(body);
  fuzz::check_schema<command::Targets>(body);
  if (auto id = command::peek_id(body)) {
    fuzz::require(id->size() <= command::kMaxIdBytes, "peek_id returned an oversized id");
  }
  return 0;
}
