// Client-to-server WebSocket data frames (RFC 6455 section 5), built by tetherd
// instead of libwebsockets.
//
// Why: profiling tetherd under bulk shell output put 12-16% of the daemon's CPU
// in libwebsockets' client-side masking. lws 4.1 XORs every outgoing byte on its
// own, reloading the mask index for each byte, and reads /dev/urandom once per
// frame for the masking key. Here the payload is masked eight bytes at a time
// and the key comes from OpenSSL's generator, which needs no system call per
// frame. The finished frame goes to lws_write(..., LWS_WRITE_RAW), which sends
// it untouched; control frames (ping, close) stay with lws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/result.hpp"

namespace tether::daemon::transport {

// The 4-byte masking key a client puts in every frame it sends.
using MaskKey = std::array<std::uint8_t, 4>;

// The longest client frame header: 2 bytes, 8 bytes of 64-bit length and the
// 4-byte masking key. Headroom of this size before a payload fits any length.
inline constexpr std::size_t kMaxClientFrameHeader = 14;

// The header size a client frame with `payload_size` bytes needs: 6, 8 or 14
// bytes, for the 7-bit, 16-bit and 64-bit length forms.
std::size_t client_frame_header_size(std::size_t payload_size);

// Turns the payload at buffer[payload_offset..] (to the end of `buffer`) into one
// complete client frame: FIN set, opcode binary (0x2), MASK set, the shortest
// length form and `key`, written into the headroom right before the payload, and
// the payload masked in place. Returns the frame, from its first header byte to
// the end of the payload, ready to be sent as is.
//
// Returns an empty span, and changes nothing, when payload_offset is past the
// end of `buffer` or leaves less headroom than the header needs
// (client_frame_header_size; kMaxClientFrameHeader always suffices). A real frame
// is never empty.
std::span<std::uint8_t> frame_client_binary(std::span<std::uint8_t> buffer_with_headroom,
                                            std::size_t payload_offset, MaskKey key);

// XORs `payload` in place with `key` repeated, as RFC 6455 section 5.3 masks and
// unmasks (payload byte i with key[i % 4]). Works eight bytes at a time through
// a 64-bit pattern, with unaligned loads and stores done by std::memcpy so the
// loop is free of undefined behaviour and the compiler can vectorise it.
void mask_payload(std::span<std::uint8_t> payload, MaskKey key);

// A fresh masking key for one frame. RFC 6455 section 5.3 requires it to be
// unpredictable, so it comes from OpenSSL's RAND_bytes, or from getrandom(2) if
// that fails. When neither yields random bytes this returns an error rather than
// a made-up key; the caller drops the connection.
Result<MaskKey> random_mask_key();

// Masking keys for a connection that sends many frames: the same random source as
// random_mask_key(), drawn kKeysPerDraw keys at a time. Each RAND_bytes call
// costs a getpid() (OpenSSL's fork check) and a lock; one per frame was 7 % of
// tether-sim's CPU at 50 000 frames a second. A key is still used once.
class MaskKeySource {
 public:
  static constexpr std::size_t kKeysPerDraw = 256;
  Result<MaskKey> next();

 private:
  std::array<std::uint8_t, kKeysPerDraw * std::tuple_size_v<MaskKey>> keys_{};
  std::size_t next_ = kKeysPerDraw;  // the next unused key; kKeysPerDraw: none left
};

}  // namespace tether::daemon::transport
