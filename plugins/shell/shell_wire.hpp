// The shell protocol as the plugin speaks it: the names from protocol/shell.hpp,
// plus bounds on what the backend may choose.
#pragma once

#include <cstddef>

#include "protocol/shell.hpp"

namespace tether::plugins::shell::wire {

namespace typ = protocol::shell::typ;
namespace prop = protocol::shell::prop;
namespace status = protocol::shell::status;

// Bounds on identifiers the peer chooses. They become map keys and log text, so a
// hostile backend must not be able to make them arbitrarily large.
inline constexpr std::size_t kMaxSidBytes = 256;
inline constexpr std::size_t kMaxUserIdBytes = 256;

}  // namespace tether::plugins::shell::wire
