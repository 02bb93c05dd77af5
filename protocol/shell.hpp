// Names and numbers of the shell protocol (0x0001, wire.md section 4), Mender-
// compatible. The shell's messages carry everything in props and a raw body, so
// there is no body schema here: only the names, so that no handler, test or
// backend spells them twice.
#pragma once

#include <cstdint>
#include <string_view>

namespace tether::protocol::shell {

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

// Values of the `status` prop.
namespace status {
inline constexpr std::int64_t kNormal = 1;
inline constexpr std::int64_t kError = 2;
inline constexpr std::int64_t kControl = 3;  // shell ping (health check)
}  // namespace status

// The PTY size when `new` carries none.
inline constexpr std::uint16_t kDefaultWidth = 80;
inline constexpr std::uint16_t kDefaultHeight = 40;

}  // namespace tether::protocol::shell
