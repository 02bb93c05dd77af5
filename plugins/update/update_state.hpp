// The life of one software update (wire.md section 5.3) as ONE transition table:
// every state the plugin can be in, every event that moves it, and nothing else.
// The plugin asks next_state() before it acts, so a transition that is not in the
// table (an `accept` while downloading, a `cancel` while installing) cannot happen
// by accident; docs/update.md draws the same table.
#pragma once

#include <optional>
#include <string_view>

namespace tether::plugins::update {

enum class UpdateState {
  kIdle,  // no update, or the last one's final state was acknowledged
  kDownloading,
  kVerifying,
  kAwaitingConsent,
  kInstalling,
  kSuccess,
  kFailure,
  kRejected,
  kCancelled,
};

enum class UpdateEvent {
  kOffer,         // the backend offered an artifact (accepted: nothing else runs)
  kDownloaded,    // every byte is on disk
  kVerified,      // size, sha256 and (when a key is set) signature hold; no consent asked
  kNeedsConsent,  // verified, and the offer asked for consent
  kAccepted,      // consent accept:true (backend or D-Bus)
  kDeclined,      // consent accept:false
  kInstalled,     // the installer exited 0 (or the new daemon found it did)
  kFailed,        // download, verification or installer failed
  kCancel,        // the backend's `cancel`
  kAcknowledged,  // the backend's `ack` of a final state
};

// The state after `event` in `state`, or nullopt when the table has no such row
// (the event is refused and nothing changes).
std::optional<UpdateState> next_state(UpdateState state, UpdateEvent event);

// True for success, failure, rejected and cancelled.
bool is_final(UpdateState state);

// "idle" or the wire.md 5.3 name ("awaiting-consent").
std::string_view state_name(UpdateState state);
// The inverse of state_name(); nullopt for anything else.
std::optional<UpdateState> state_from_name(std::string_view name);

std::string_view event_name(UpdateEvent event);

}  // namespace tether::plugins::update
