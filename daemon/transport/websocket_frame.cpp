#include "daemon/transport/websocket_frame.hpp"

#include <openssl/rand.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace tether::daemon::transport {
namespace {

constexpr std::uint8_t kFinBinary = 0x80 | 0x02;  // FIN, opcode 0x2 (binary frame)
constexpr std::uint8_t kMaskBit = 0x80;
constexpr std::size_t kMaskKeySize = 4;

// Fills `bytes` from getrandom(2), retrying when a signal interrupts it.
bool getrandom_fill(std::span<std::uint8_t> bytes) {
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t got = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    filled += static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace

std::size_t client_frame_header_size(std::size_t payload_size) {
  if (payload_size < 126) return 2 + kMaskKeySize;
  if (payload_size <= 0xFFFF) return 4 + kMaskKeySize;
  return 10 + kMaskKeySize;
}

std::span<std::uint8_t> frame_client_binary(std::span<std::uint8_t> buffer_with_headroom,
                                            std::size_t payload_offset, MaskKey key) {
  if (payload_offset > buffer_with_headroom.size()) return {};
  const std::size_t payload_size = buffer_with_headroom.size() - payload_offset;
  const std::size_t header_size = client_frame_header_size(payload_size);
  if (payload_offset < header_size) return {};

  const auto frame = buffer_with_headroom.subspan(payload_offset - header_size);
  std::uint8_t* out = frame.data();
  *out++ = kFinBinary;
  if (payload_size < 126) {
    *out++ = static_cast<std::uint8_t>(kMaskBit | payload_size);
  } else if (payload_size <= 0xFFFF) {
    *out++ = kMaskBit | 126;
    for (int shift = 8; shift >= 0; shift -= 8)
      *out++ = static_cast<std::uint8_t>(payload_size >> shift);
  } else {
    // 64-bit length, most significant bit 0 (size_t on our targets never sets it).
    *out++ = kMaskBit | 127;
    const auto length = static_cast<std::uint64_t>(payload_size);
    for (int shift = 56; shift >= 0; shift -= 8)
      *out++ = static_cast<std::uint8_t>(length >> shift);
  }
  std::memcpy(out, key.data(), key.size());

  mask_payload(frame.subspan(header_size), key);
  return frame;
}

void mask_payload(std::span<std::uint8_t> payload, MaskKey key) {
  // The key repeated twice in memory order, so that XORing an 8-byte word read
  // from an offset that is a multiple of 8 masks byte i with key[i % 4] whatever
  // the host byte order.
  std::uint8_t doubled[8];
  std::memcpy(doubled, key.data(), key.size());
  std::memcpy(doubled + key.size(), key.data(), key.size());
  std::uint64_t pattern = 0;
  std::memcpy(&pattern, doubled, sizeof pattern);

  std::uint8_t* const data = payload.data();
  const std::size_t size = payload.size();
  std::size_t i = 0;
  for (; size - i >= sizeof pattern; i += sizeof pattern) {
    std::uint64_t word = 0;
    std::memcpy(&word, data + i, sizeof word);
    word ^= pattern;
    std::memcpy(data + i, &word, sizeof word);
  }
  for (; i < size; ++i) data[i] ^= key[i % kMaskKeySize];
}

namespace {

// Fills `bytes` from RAND_bytes, or getrandom(2) when that fails.
Status random_fill(std::span<std::uint8_t> bytes) {
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1) return Status::Ok();
  if (getrandom_fill(bytes)) return Status::Ok();
  return Error("no random bytes for a WebSocket masking key (RAND_bytes and getrandom failed: " +
               std::string(std::strerror(errno)) + ")");
}

}  // namespace

Result<MaskKey> random_mask_key() {
  MaskKey key{};
  if (auto s = random_fill(key); !s.ok()) return s.error();
  return key;
}

Result<MaskKey> MaskKeySource::next() {
  if (next_ == kKeysPerDraw) {
    if (auto s = random_fill(keys_); !s.ok()) return s.error();
    next_ = 0;
  }
  MaskKey key{};
  std::copy_n(keys_.begin() + static_cast<std::ptrdiff_t>(next_ * key.size()), key.size(),
              key.begin());
  ++next_;
  return key;
}

}  // namespace tether::daemon::transport
