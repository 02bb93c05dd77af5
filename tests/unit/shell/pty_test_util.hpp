// Driving a PtyProcess by hand, without the event loop.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "plugins/shell/pty_process.hpp"

namespace tether::plugins::shell::test {

// Writes `input` to the terminal, then collects output until end of file (every
// holder of the slave closed it) or `timeout`.
inline std::string converse(PtyProcess& process, const std::string& input,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::size_t written = 0;
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fd{process.master(), static_cast<short>(POLLIN | (written < input.size() ? POLLOUT : 0)),
              0};
    ::poll(&fd, 1, 50);
    if (written < input.size() && (fd.revents & POLLOUT) != 0) {
      ssize_t n = ::write(process.master(), input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
    }
    char buf[4096];
    ssize_t n = ::read(process.master(), buf, sizeof buf);
    if (n > 0) {
      output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (n < 0 && errno == EIO)) {
      break;
    }
  }
  return output;
}

}  // namespace tether::plugins::shell::test
