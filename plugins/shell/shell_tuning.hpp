// The shell plugin's internal bounds: not options of daemon.md, but named in one
// place so that tests can shrink them (a 100 ms kill grace, a tiny queue cap) and so
// that every bound the peer can push against is visible at a glance.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace tether::plugins::shell {

struct ShellTuning {
  // PTY output is read in chunks of up to this size and sent as one `shell` message
  // each: few, large messages instead of mender-connect's 255-byte ones. It is also
  // what one readable callback may read, so a flooding session yields the loop to
  // the others after each chunk.
  std::size_t read_chunk = 64 * 1024;
  // A session stops reading its PTY (the shell blocks in write) while its own queued
  // output exceeds session_queue_cap or the whole connection's exceeds
  // total_queue_cap, and resumes when both are back under their low-water marks.
  // These caps are what one busy session can put in front of another's echo.
  std::size_t session_queue_cap = 256 * 1024;
  std::size_t session_queue_low = 64 * 1024;
  std::size_t total_queue_cap = 2 * 1024 * 1024;
  std::size_t total_queue_low = 1024 * 1024;
  // Keystrokes accepted but not yet taken by the PTY, per session. A backend that
  // pastes faster than the shell reads is told (status 2) beyond this.
  std::size_t input_cap = 256 * 1024;
  // Between SIGHUP and SIGKILL when a session is stopped.
  std::chrono::milliseconds kill_grace{2000};
  // After SIGKILL, how long to wait for the terminal's last holder to close it
  // before the session is ended anyway.
  std::chrono::milliseconds linger{2000};
  // How long a backend has to answer a shell `ping`; sent as the ping's `timeout`.
  // Unset: ping interval + 5 s (65 s for the default 60 s, what Mender sends).
  std::optional<std::chrono::seconds> pong_timeout;
};

}  // namespace tether::plugins::shell
