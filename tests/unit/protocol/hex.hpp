// Hex helpers and the wire.md test vectors, shared by the protocol tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/value.hpp"

namespace tether::protocol::testing {

inline Bytes from_hex(std::string_view hex) {
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    return static_cast<std::uint8_t>(c - 'A' + 10);
  };
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

inline std::string to_hex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

// wire.md section 2, "Test vectors (hex, produced by the Go peer)".
namespace vectors {
inline constexpr std::string_view kShellNew =
    "81a368647284a570726f746fcd0001a3747970a36e6577a3736964a27331a570726f707381a7757365725f6964a2"
    "7531";
inline constexpr std::string_view kShellData =
    "82a368647284a570726f746fcd0001a3747970a57368656c6ca3736964a27331a570726f707381a673746174757301"
    "a4626f6479c4036c730a";
inline constexpr std::string_view kShellPing =
    "81a368647284a570726f746fcd0001a3747970a470696e67a3736964a27331a570726f707381a774696d656f75744"
    "1";
inline constexpr std::string_view kControlOpen =
    "82a368647283a570726f746fcdffffa3747970a46f70656ea3736964a27331a4626f6479c40c81a876657273696f6e"
    "739101";
inline constexpr std::string_view kControlAcceptBody =
    "82a776657273696f6e01a970726f746f636f6c7394cd0001cd0002cd0003cd0004";
inline constexpr std::string_view kControlErrorBody =
    "82a3657272af73657373696f6e2074696d656f7574a5636c6f7365c3";
inline constexpr std::string_view kFileChunk =
    "82a368647284a570726f746fcd0002a3747970aa66696c655f6368756e6ba3736964a27331a570726f707381a66f66"
    "66736574d30000000000000005a4626f6479c403616263";
inline constexpr std::string_view kShellEmptyBody = "81a368647281a570726f746fcd0001";

// The six envelopes (the two control bodies are not envelopes).
inline constexpr std::string_view kEnvelopes[] = {kShellNew,    kShellData, kShellPing,
                                                  kControlOpen, kFileChunk, kShellEmptyBody};
}  // namespace vectors

}  // namespace tether::protocol::testing
