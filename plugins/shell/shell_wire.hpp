// Names and numbers of the shell protocol (wire.md section 4), shared by the plugin
// and its tests so that a typo cannot make both agree on the wrong spelling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tether::plugins::shell::wire {

namespace typ {
inline constexpr std::string_view kNew = "new";
inline constexpr std::string_view kShell = "shell";
inline constexpr std::string_view kResize = "resize";
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kPing = "ping";
inline constexpr std::string_view kPong = "pong";
}  // namespace typ

namespace prop {
inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kUserId = "user_id";
inline constexpr std::string_view kTerminalWidth = "terminal_width";
inline constexpr std::string_view kTerminalHeight = "terminal_height";
inline constexpr std::string_view kExitCode = "exit_code";
inline constexpr std::string_view kTimeout = "timeout";
}  // namespace prop

// Mender's shell message status values.
namespace status {
inline constexpr std::int64_t kNormal = 1;
inline constexpr std::int64_t kError = 2;
inline constexpr std::int64_t kControl = 3;
}  // namespace status

// Bounds on identifiers the peer chooses. They become map keys and log text, so a
// hostile backend must not be able to make them arbitrarily large.
inline constexpr std::size_t kMaxSidBytes = 256;
inline constexpr std::size_t kMaxUserIdBytes = 256;

}  // namespace tether::plugins::shell::wire
