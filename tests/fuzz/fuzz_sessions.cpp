// libFuzzer target: the routed-session body decoders (file transfer and port
// forward, sessions.md), each on the same input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/filetransfer.hpp"
#include "protocol/portforward.hpp"
#include "tests/fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::protocol;
  const std::span<const std::uint8_t> body(data, size);
  fuzz::check_schema<filetransfer::FileInfo>(body);
  fuzz::check_schema<filetransfer::PathRequest>(body);
  fuzz::check_schema<filetransfer::UploadRequest>(body);
  fuzz::check_schema<filetransfer::TransferError>(body);
  fuzz::check_schema<portforward::NewConnection>(body);
  return 0;
}
