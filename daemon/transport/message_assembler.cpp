#include "daemon/transport/message_assembler.hpp"

#include <utility>

namespace tether::daemon::transport {

MessageAssembler::Outcome MessageAssembler::add(std::span<const std::uint8_t> piece,
                                                const Fragment& fragment, std::size_t max_message) {
  if (fragment.first) {
    buffer_.clear();
    if (!fragment.binary) return Outcome::kNotBinary;
  }
  if (buffer_.size() + piece.size() + fragment.remaining > max_message) {
    buffer_.clear();
    return Outcome::kTooBig;
  }
  buffer_.insert(buffer_.end(), piece.begin(), piece.end());
  if (!fragment.final || fragment.remaining != 0) return Outcome::kIncomplete;
  return Outcome::kComplete;
}

protocol::Bytes MessageAssembler::take() {
  return std::exchange(buffer_, {});
}

}  // namespace tether::daemon::transport
