// Running update.installer on a worker thread: `INSTALLER ARTIFACT` with the
// TETHER_UPDATE_* variables, stdout and stderr captured together (only the last
// `max_output` bytes are kept: an installer may print a lot), a timeout after which
// its whole process group is killed, exit 0 = success.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "plugins/update/cancel_token.hpp"
#include "protocol/result.hpp"

namespace tether::plugins::update {

struct InstallerRequest {
  std::string installer;                                         // absolute path
  std::string artifact;                                          // absolute path, the only argument
  std::vector<std::pair<std::string, std::string>> environment;  // added to the daemon's
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  std::size_t max_output = 4096;
  // When set, the installer runs under a /bin/sh wrapper that writes its exit status
  // to this file (atomically, by rename) when it ends, even if the daemon that started
  // it is gone by then: that is how a restarted daemon learns how an install ended.
  std::string status_file;
};

struct InstallerOutcome {
  bool success = false;
  // "exited with status 3", "killed by signal 9", "timed out after 2s", or empty on success.
  std::string reason;
  std::string output_tail;
};

// Blocks until the installer ends or times out. When `stop` fires (the daemon is
// stopping), it returns kUnavailable WITHOUT killing the installer: an installer that
// replaces tetherd restarts it, and must outlive the old daemon (docs/update.md).
Result<InstallerOutcome> run_installer(const InstallerRequest& request, CancelToken& stop);

}  // namespace tether::plugins::update
