// What the durable store keeps about the current update: the offer as received, the
// state it is in, and what was last reported. One document ("update/current") holds
// it; every transition rewrites it, and is committed before it is reported, so a
// restart finds the update exactly where the backend last heard it was.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "plugins/update/update_state.hpp"
#include "protocol/result.hpp"
#include "protocol/update.hpp"

namespace tether::plugins::update {

// The store key of the current update's record.
inline constexpr char kRecordKey[] = "update/current";

struct UpdateRecord {
  protocol::UpdateOffer offer;
  UpdateState state = UpdateState::kIdle;
  std::optional<std::uint64_t> percent;
  std::optional<std::string> message;
  // Written (and committed) just before the installer is started: a daemon that
  // starts and finds it set knows the install was under way when it stopped.
  bool installer_started = false;
  // When the installer was started (ms since the epoch): a restarted daemon waits for
  // its status file until update.install-timeout after this.
  std::int64_t installer_started_ms = 0;

  protocol::Bytes encode() const;
  static Result<UpdateRecord> decode(std::span<const std::uint8_t> bytes);

  // The wire message that reports this record.
  protocol::UpdateProgress progress() const;
};

}  // namespace tether::plugins::update
