// Names of the shell protocol (0x0001, wire.md section 4), Mender-compatible. The
// shell's messages carry everything in props and a raw body, so there is no body
// schema here: only the names, so that no handler spells them twice.
#pragma once

#include <cstdint>

namespace tether::protocol::shell {

// Message types.
inline constexpr char kNew[] = "new";
inline constexpr char kShell[] = "shell";
inline constexpr char kResize[] = "resize";
inline constexpr char kStop[] = "stop";
inline constexpr char kPing[] = "ping";
inline constexpr char kPong[] = "pong";

// Props.
inline constexpr char kUserId[] = "user_id";
inline constexpr char kTerminalWidth[] = "terminal_width";
inline constexpr char kTerminalHeight[] = "terminal_height";
inline constexpr char kStatus[] = "status";
inline constexpr char kExitCode[] = "exit_code";
inline constexpr char kTimeout[] = "timeout";

// Values of the `status` prop.
inline constexpr std::int64_t kStatusNormal = 1;
inline constexpr std::int64_t kStatusError = 2;
inline constexpr std::int64_t kStatusControl = 3;  // shell ping (health check)

// The PTY size when `new` carries none.
inline constexpr std::uint16_t kDefaultWidth = 80;
inline constexpr std::uint16_t kDefaultHeight = 40;

}  // namespace tether::protocol::shell
