// The update protocol (0x0012, wire.md section 5.3): the backend offers a software
// artifact; the device downloads, verifies, optionally waits for consent, installs,
// and reports progress until the backend acknowledges the final state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol {

namespace update {
inline constexpr char kOffer[] = "offer";
inline constexpr char kProgress[] = "progress";
inline constexpr char kConsent[] = "consent";
inline constexpr char kCancel[] = "cancel";
inline constexpr char kAck[] = "ack";

// UpdateProgress.state values.
inline constexpr char kDownloading[] = "downloading";
inline constexpr char kVerifying[] = "verifying";
inline constexpr char kAwaitingConsent[] = "awaiting-consent";
inline constexpr char kInstalling[] = "installing";
inline constexpr char kSuccess[] = "success";
inline constexpr char kFailure[] = "failure";
inline constexpr char kRejected[] = "rejected";
inline constexpr char kCancelled[] = "cancelled";
inline constexpr std::array<std::string_view, 8> kStates = {
    kDownloading, kVerifying, kAwaitingConsent, kInstalling,
    kSuccess,     kFailure,   kRejected,        kCancelled};

// True for the states an update ends in (re-sent after every connect until acked).
bool is_final_state(std::string_view state);
}  // namespace update

// Backend -> device: install this artifact. `sha256` is 64 hex digits (either case;
// compare case-insensitively). `signature` is over the 32-byte digest; `consent`
// true means wait for an explicit accept before installing.
struct UpdateOffer {
  std::string id;
  std::string version;
  std::string url;
  std::uint64_t size = 0;
  std::string sha256;
  std::optional<Bytes> signature;
  std::optional<bool> consent;

  Bytes encode() const;
  static Result<UpdateOffer> decode(std::span<const std::uint8_t> body,
                                    const DecodeLimits& limits = {});
  friend bool operator==(const UpdateOffer&, const UpdateOffer&) = default;
};

// Device -> backend: where update `id` is. `percent` is 0..100.
struct UpdateProgress {
  std::string id;
  std::string state;  // one of update::kStates
  std::optional<std::uint64_t> percent;
  std::optional<std::string> message;

  Bytes encode() const;
  static Result<UpdateProgress> decode(std::span<const std::uint8_t> body,
                                       const DecodeLimits& limits = {});
  friend bool operator==(const UpdateProgress&, const UpdateProgress&) = default;
};

// Backend -> device: the operator's answer to awaiting-consent.
struct UpdateConsent {
  std::string id;
  bool accept = false;

  Bytes encode() const;
  static Result<UpdateConsent> decode(std::span<const std::uint8_t> body,
                                      const DecodeLimits& limits = {});
  friend bool operator==(const UpdateConsent&, const UpdateConsent&) = default;
};

// Backend -> device: stop update `id` if it has not started installing.
struct UpdateCancel {
  std::string id;

  Bytes encode() const;
  static Result<UpdateCancel> decode(std::span<const std::uint8_t> body,
                                     const DecodeLimits& limits = {});
  friend bool operator==(const UpdateCancel&, const UpdateCancel&) = default;
};

// Backend -> device: the final state of update `id` has arrived; stop re-sending it.
struct UpdateAck {
  std::string id;

  Bytes encode() const;
  static Result<UpdateAck> decode(std::span<const std::uint8_t> body,
                                  const DecodeLimits& limits = {});
  friend bool operator==(const UpdateAck&, const UpdateAck&) = default;
};

}  // namespace tether::protocol
