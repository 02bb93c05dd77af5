#include "daemon/transport/websocket_frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

namespace tether::daemon::transport {
namespace {

constexpr MaskKey kKey{0x37, 0xfa, 0x21, 0x3d};

// The payload i * 7 + 3 (mod 256), so that masking errors at any offset show.
std::vector<std::uint8_t> pattern_payload(std::size_t size) {
  std::vector<std::uint8_t> payload(size);
  for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return payload;
}

// RFC 6455 section 5.3, one byte at a time: the reference for mask_payload.
std::vector<std::uint8_t> naive_mask(std::vector<std::uint8_t> bytes, const MaskKey& key) {
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] ^= key[i % 4];
  return bytes;
}

// A buffer of kMaxClientFrameHeader bytes of headroom followed by `payload`.
std::vector<std::uint8_t> with_headroom(const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> buffer(kMaxClientFrameHeader, 0xEE);
  buffer.insert(buffer.end(), payload.begin(), payload.end());
  return buffer;
}

struct Decoded {
  bool fin = false;
  unsigned opcode = 0;
  bool masked = false;
  std::uint64_t length = 0;
  MaskKey key{};
  std::size_t header_size = 0;
};

// Reads a client frame header the way a server does.
Decoded decode_header(std::span<const std::uint8_t> frame) {
  Decoded d;
  d.fin = (frame[0] & 0x80) != 0;
  d.opcode = frame[0] & 0x0fU;
  d.masked = (frame[1] & 0x80) != 0;
  const unsigned length7 = frame[1] & 0x7fU;
  std::size_t at = 2;
  if (length7 < 126) {
    d.length = length7;
  } else {
    const std::size_t bytes = length7 == 126 ? 2 : 8;
    for (std::size_t i = 0; i < bytes; ++i) d.length = (d.length << 8) | frame[at++];
  }
  std::copy_n(frame.begin() + static_cast<std::ptrdiff_t>(at), 4, d.key.begin());
  d.header_size = at + 4;
  return d;
}

class FrameHeaderTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(FrameHeaderTest, HeaderHasFinBinaryMaskLengthAndKeyAndThePayloadUnmasksBack) {
  const std::size_t size = GetParam();
  const auto payload = pattern_payload(size);
  auto buffer = with_headroom(payload);

  const auto frame = frame_client_binary(buffer, kMaxClientFrameHeader, kKey);
  ASSERT_FALSE(frame.empty());

  const std::size_t expected_header = size < 126 ? 6 : size <= 65535 ? 8 : 14;
  EXPECT_EQ(client_frame_header_size(size), expected_header);
  EXPECT_EQ(frame.size(), expected_header + size);
  // The frame ends where the buffer ends and starts right before the payload.
  EXPECT_EQ(frame.data() + frame.size(), buffer.data() + buffer.size());
  EXPECT_EQ(frame.data(), buffer.data() + kMaxClientFrameHeader - expected_header);

  EXPECT_EQ(frame[0], 0x82);  // FIN + opcode binary
  const unsigned length7 = frame[1] & 0x7fU;
  if (size < 126) {
    EXPECT_EQ(length7, size);
  } else if (size <= 65535) {
    EXPECT_EQ(length7, 126U);
  } else {
    EXPECT_EQ(length7, 127U);
    EXPECT_EQ(frame[2] & 0x80, 0) << "the 64-bit length must have its top bit clear";
  }

  const Decoded d = decode_header(frame);
  EXPECT_TRUE(d.fin);
  EXPECT_EQ(d.opcode, 0x2U);
  EXPECT_TRUE(d.masked);
  EXPECT_EQ(d.length, size);
  EXPECT_EQ(d.key, kKey);
  EXPECT_EQ(d.header_size, expected_header);

  // The headroom in front of the frame is left alone.
  for (std::size_t i = 0; i < kMaxClientFrameHeader - expected_header; ++i)
    EXPECT_EQ(buffer[i], 0xEE) << i;

  std::vector<std::uint8_t> body(frame.begin() + static_cast<std::ptrdiff_t>(d.header_size),
                                 frame.end());
  EXPECT_EQ(body, naive_mask(payload, kKey));
  mask_payload(body, d.key);
  EXPECT_EQ(body, payload);
}

INSTANTIATE_TEST_SUITE_P(LengthForms, FrameHeaderTest,
                         ::testing::Values(0, 1, 125, 126, 65535, 65536, 3 * 1024 * 1024 + 5));

TEST(FrameHeaderTest, SixteenAndSixtyFourBitLengthsAreBigEndian) {
  auto buffer = with_headroom(pattern_payload(0x1234));
  auto frame = frame_client_binary(buffer, kMaxClientFrameHeader, kKey);
  ASSERT_EQ(frame.size(), 8U + 0x1234);
  EXPECT_EQ(frame[1], 0x80 | 126);
  EXPECT_EQ(frame[2], 0x12);
  EXPECT_EQ(frame[3], 0x34);

  const std::size_t large = 0x01020304;  // 16 MiB + a bit
  std::vector<std::uint8_t> big(kMaxClientFrameHeader + large);
  frame = frame_client_binary(big, kMaxClientFrameHeader, kKey);
  ASSERT_EQ(frame.size(), 14U + large);
  EXPECT_EQ(frame[1], 0x80 | 127);
  const std::vector<std::uint8_t> length(frame.begin() + 2, frame.begin() + 10);
  EXPECT_EQ(length, (std::vector<std::uint8_t>{0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04}));
  EXPECT_TRUE(std::equal(frame.begin() + 10, frame.begin() + 14, kKey.begin()));
}

TEST(FrameHeaderTest, ExactHeadroomIsEnough) {
  for (const std::size_t size : {std::size_t{0}, std::size_t{125}, std::size_t{126},
                                 std::size_t{65535}, std::size_t{65536}}) {
    const std::size_t header = client_frame_header_size(size);
    std::vector<std::uint8_t> buffer(header + size);
    const auto frame = frame_client_binary(buffer, header, kKey);
    EXPECT_EQ(frame.data(), buffer.data()) << size;
    EXPECT_EQ(frame.size(), buffer.size()) << size;
  }
}

TEST(FrameHeaderTest, TooLittleHeadroomIsRejectedAndNothingChanges) {
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{10}, std::size_t{125}, std::size_t{126}, std::size_t{70000}}) {
    const std::size_t header = client_frame_header_size(size);
    const auto payload = pattern_payload(size);
    std::vector<std::uint8_t> buffer(header - 1, 0xEE);
    buffer.insert(buffer.end(), payload.begin(), payload.end());
    const auto before = buffer;

    EXPECT_TRUE(frame_client_binary(buffer, header - 1, kKey).empty()) << size;
    EXPECT_EQ(buffer, before) << size;
  }
  // 14 bytes would hold a short frame's header, not a 64-bit one's.
  std::vector<std::uint8_t> buffer(kMaxClientFrameHeader - 1 + 70000);
  EXPECT_TRUE(frame_client_binary(buffer, kMaxClientFrameHeader - 1, kKey).empty());
  std::vector<std::uint8_t> none;
  EXPECT_TRUE(frame_client_binary(none, 0, kKey).empty());
}

TEST(FrameHeaderTest, OffsetPastTheBufferIsRejected) {
  std::vector<std::uint8_t> buffer(kMaxClientFrameHeader);
  EXPECT_FALSE(frame_client_binary(buffer, kMaxClientFrameHeader, kKey).empty());
  EXPECT_TRUE(frame_client_binary(buffer, kMaxClientFrameHeader + 1, kKey).empty());
}

TEST(MaskPayloadTest, MatchesTheByteWiseReferenceForEveryLengthAndAlignment) {
  // Lengths 0..70 cover the empty payload, every tail length after the 8-byte
  // words, and several words; offsets 0..7 into the storage vary the alignment.
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t size = 0; size <= 70; ++size) {
      const auto payload = pattern_payload(size);
      std::vector<std::uint8_t> storage(offset + size + 8, 0x5A);
      std::copy(payload.begin(), payload.end(),
                storage.begin() + static_cast<std::ptrdiff_t>(offset));
      const std::span<std::uint8_t> view(storage.data() + offset, size);

      mask_payload(view, kKey);
      ASSERT_EQ(std::vector<std::uint8_t>(view.begin(), view.end()), naive_mask(payload, kKey))
          << "size " << size << " offset " << offset;
      // Bytes around the payload are untouched.
      for (std::size_t i = 0; i < offset; ++i) ASSERT_EQ(storage[i], 0x5A);
      for (std::size_t i = offset + size; i < storage.size(); ++i) ASSERT_EQ(storage[i], 0x5A);

      mask_payload(view, kKey);
      ASSERT_EQ(std::vector<std::uint8_t>(view.begin(), view.end()), payload)
          << "size " << size << " offset " << offset;
    }
  }
}

TEST(MaskPayloadTest, LargeBufferRoundTrips) {
  const std::size_t size = 4 * 1024 * 1024 + 3;
  const auto payload = pattern_payload(size);
  const MaskKey key{0x00, 0xff, 0x80, 0x01};
  auto masked = payload;
  mask_payload(masked, key);
  EXPECT_EQ(masked, naive_mask(payload, key));
  mask_payload(masked, key);
  EXPECT_EQ(masked, payload);
}

TEST(MaskPayloadTest, ZeroKeyLeavesThePayloadAlone) {
  auto bytes = pattern_payload(33);
  mask_payload(bytes, MaskKey{});
  EXPECT_EQ(bytes, pattern_payload(33));
}

TEST(RandomMaskKeyTest, KeysDifferAcrossCalls) {
  std::set<MaskKey> keys;
  for (int i = 0; i < 64; ++i) {
    auto key = random_mask_key();
    ASSERT_TRUE(key.ok()) << key.error().message();
    keys.insert(*key);
  }
  // 64 draws of 32 random bits: a repeat is possible (about 1 in 2^21), and all
  // of them equal would mean a constant key.
  EXPECT_GE(keys.size(), 60U);
}

// Across several draws: every key is used once, and a new draw brings new keys.
TEST(MaskKeySourceTest, KeysDifferAcrossDraws) {
  MaskKeySource source;
  std::set<MaskKey> keys;
  const std::size_t n = 3 * MaskKeySource::kKeysPerDraw + 7;
  for (std::size_t i = 0; i < n; ++i) {
    auto key = source.next();
    ASSERT_TRUE(key.ok()) << key.error().message();
    keys.insert(*key);
  }
  // 775 draws of 32 bits: a repeat or two is possible (~7 % for one); a source
  // that handed out a key twice or drew the same block again gives hundreds.
  EXPECT_GE(keys.size(), n - 3);
}

}  // namespace
}  // namespace tether::daemon::transport
