// The terminal size a backend asks for, validated. The numbers come from the network
// and end up in a TIOCSWINSZ ioctl and in every full-screen program's buffers, so
// anything that is not a whole number in [1, kMaxTerminalDimension] is refused
// (status 2) rather than clamped: a backend that sends garbage gets told, instead of
// a terminal whose size silently differs from what its UI draws.
#pragma once

#include <cstdint>

#include "protocol/result.hpp"
#include "protocol/shell.hpp"
#include "protocol/value.hpp"

namespace tether::plugins::shell {

// Larger than any real screen (a 8K display in a 4-pixel font), small enough that
// programs sizing buffers by rows * columns stay sane.
inline constexpr std::uint16_t kMaxTerminalDimension = 4096;

struct TerminalSize {
  std::uint16_t columns = protocol::shell::kDefaultWidth;
  std::uint16_t rows = protocol::shell::kDefaultHeight;
  friend bool operator==(const TerminalSize&, const TerminalSize&) = default;
};

// Reads `terminal_width` and `terminal_height` from message props. Each one that is
// absent (or nil) keeps its value from `fallback`; one that is present must be an
// integer (or a float with no fraction, as JavaScript encoders may send) in range.
Result<TerminalSize> terminal_size_from_props(const protocol::Map& props, TerminalSize fallback);

}  // namespace tether::plugins::shell
