// Control messages (0xFFFF) every part of the hub answers with, built from
// protocol/control.hpp's schema so that no part spells the body by hand.
#pragma once

#include <string>

#include "protocol/message.hpp"

namespace tether::hub {

// A control `error` {err, close, msgproto?, msgtype?} about `about` (its proto,
// typ and sid), or about nothing in particular when null.
protocol::ProtoMsg control_error(std::string err, bool close,
                                 const protocol::ProtoHdr* about = nullptr);

// A control `pong` answering a `ping` for `sid`.
protocol::ProtoMsg control_pong(const std::string& sid);

}  // namespace tether::hub
