// A spawned daemon (tetherd, or any program) whose stdout and stderr the test can
// search while it runs. The child dies with the test process (PR_SET_PDEATHSIG),
// and the destructor SIGKILLs and reaps it if it is still running, so no test
// leaves a process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.hpp"

namespace tether::test {

class DaemonProcess {
 public:
  // Runs `binary` with `args` (argv[1..]); `extra_env` entries ("NAME=value") are
  // added to the test's own environment, replacing variables of the same name.
  static Result<std::unique_ptr<DaemonProcess>> start(
      const std::string& binary, const std::vector<std::string>& args,
      const std::vector<std::string>& extra_env = {});
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const;

  // Everything the process wrote to stdout/stderr so far.
  std::string output() const;
  // Waits until the output, from byte `from` on, contains `needle`. Returns the
  // offset just past the match, or nullopt on timeout.
  std::optional<std::size_t> wait_for_output(std::string_view needle,
                                             std::chrono::milliseconds timeout,
                                             std::size_t from = 0) const;
  // How often `needle` occurs in the output so far.
  std::size_t count_in_output(std::string_view needle) const;

  void send_signal(int signal) const;
  // Waits for the process to end: its exit status, or 128 + signal number.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  bool running();

  class Impl;

 private:
  explicit DaemonProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs a program to completion (for --check-config, --version): exit status and output.
struct CompletedProcess {
  int exit_status = -1;
  std::string output;
};
Result<CompletedProcess> run_to_completion(const std::string& binary,
                                           const std::vector<std::string>& args,
                                           std::chrono::milliseconds timeout);

}  // namespace tether::test
