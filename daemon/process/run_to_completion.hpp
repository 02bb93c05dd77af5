// Running a helper program to its end on a worker thread: an installer, an inventory
// script, the Mender client. The program gets /dev/null as stdin, its output on a
// pipe (stdout, and stderr unless discarded), default signal dispositions and an
// empty mask (the daemon blocks signals for its signalfd), and a process group of
// its own, so that a timeout kills whatever it started too. Output is bounded: the
// first or the last `max_output` bytes are kept, never more.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/result.hpp"

namespace tether::process {

struct ProgramRun {
  // argv[0] is the program's absolute path.
  std::vector<std::string> argv;
  // Set in the child's environment, replacing variables of the same name.
  std::vector<std::pair<std::string, std::string>> environment;
  std::chrono::milliseconds timeout{std::chrono::minutes(1)};
  std::size_t max_output = 4096;
  enum class Keep { kHead, kTail } keep = Keep::kTail;
  bool capture_stderr = true;
  // Polled at least every 100 ms while the program runs. When it answers true the
  // run is abandoned and the program left running (an installer that restarts the
  // daemon must outlive it).
  std::function<bool()> abandon;
};

struct ProgramOutcome {
  enum class Ended { kExited, kSignalled, kTimedOut, kAbandoned } ended = Ended::kExited;
  int code = 0;  // the exit status, or the signal
  std::string output;

  bool succeeded() const { return ended == Ended::kExited && code == 0; }
  // "exited with status 3", "killed by signal 9", "timed out after 2s", "abandoned".
  std::string describe(std::chrono::milliseconds timeout) const;
};

// Blocks until the program ends, times out (its group is killed, then reaped) or is
// abandoned. An error only when it could not be started (kIo, naming argv[0]).
Result<ProgramOutcome> run_to_completion(const ProgramRun& run);

}  // namespace tether::process
