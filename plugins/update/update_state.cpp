#include "plugins/update/update_state.hpp"

#include <array>

#include "protocol/update.hpp"

namespace tether::plugins::update {
namespace {

using S = UpdateState;
using E = UpdateEvent;

struct Transition {
  UpdateState from;
  UpdateEvent event;
  UpdateState to;
};

// The whole state machine. Cancel is refused once the installer runs (wire.md:
// "stop update id if it has not started installing"): a half-run installer cannot be
// undone by killing it. A final state stays until the backend acknowledges it.
constexpr std::array kTransitions{
    Transition{S::kIdle, E::kOffer, S::kDownloading},
    Transition{S::kDownloading, E::kDownloaded, S::kVerifying},
    Transition{S::kDownloading, E::kFailed, S::kFailure},
    Transition{S::kDownloading, E::kCancel, S::kCancelled},
    Transition{S::kVerifying, E::kVerified, S::kInstalling},
    Transition{S::kVerifying, E::kNeedsConsent, S::kAwaitingConsent},
    Transition{S::kVerifying, E::kFailed, S::kFailure},
    Transition{S::kVerifying, E::kCancel, S::kCancelled},
    Transition{S::kAwaitingConsent, E::kAccepted, S::kInstalling},
    Transition{S::kAwaitingConsent, E::kDeclined, S::kRejected},
    Transition{S::kAwaitingConsent, E::kCancel, S::kCancelled},
    Transition{S::kAwaitingConsent, E::kFailed, S::kFailure},
    Transition{S::kInstalling, E::kInstalled, S::kSuccess},
    Transition{S::kInstalling, E::kFailed, S::kFailure},
    // A final state that was never acknowledged does not block the next offer: a
    // backend that offers again has moved on (docs/update.md).
    Transition{S::kSuccess, E::kOffer, S::kDownloading},
    Transition{S::kFailure, E::kOffer, S::kDownloading},
    Transition{S::kRejected, E::kOffer, S::kDownloading},
    Transition{S::kCancelled, E::kOffer, S::kDownloading},
    Transition{S::kSuccess, E::kAcknowledged, S::kIdle},
    Transition{S::kFailure, E::kAcknowledged, S::kIdle},
    Transition{S::kRejected, E::kAcknowledged, S::kIdle},
    Transition{S::kCancelled, E::kAcknowledged, S::kIdle},
};

constexpr std::array<std::pair<UpdateState, std::string_view>, 9> kNames{{
    {S::kIdle, "idle"},
    {S::kDownloading, protocol::update::kDownloading},
    {S::kVerifying, protocol::update::kVerifying},
    {S::kAwaitingConsent, protocol::update::kAwaitingConsent},
    {S::kInstalling, protocol::update::kInstalling},
    {S::kSuccess, protocol::update::kSuccess},
    {S::kFailure, protocol::update::kFailure},
    {S::kRejected, protocol::update::kRejected},
    {S::kCancelled, protocol::update::kCancelled},
}};

}  // namespace

std::optional<UpdateState> next_state(UpdateState state, UpdateEvent event) {
  for (const Transition& t : kTransitions) {
    if (t.from == state && t.event == event) return t.to;
  }
  return std::nullopt;
}

bool is_final(UpdateState state) {
  return state == S::kSuccess || state == S::kFailure || state == S::kRejected ||
         state == S::kCancelled;
}

std::string_view state_name(UpdateState state) {
  for (const auto& [s, name] : kNames) {
    if (s == state) return name;
  }
  return "idle";
}

std::optional<UpdateState> state_from_name(std::string_view name) {
  for (const auto& [s, n] : kNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

std::string_view event_name(UpdateEvent event) {
  switch (event) {
    case E::kOffer:
      return "offer";
    case E::kDownloaded:
      return "downloaded";
    case E::kVerified:
      return "verified";
    case E::kNeedsConsent:
      return "needs-consent";
    case E::kAccepted:
      return "accepted";
    case E::kDeclined:
      return "declined";
    case E::kInstalled:
      return "installed";
    case E::kFailed:
      return "failed";
    case E::kCancel:
      return "cancel";
    case E::kAcknowledged:
      return "acknowledged";
  }
  return "unknown";
}

}  // namespace tether::plugins::update
