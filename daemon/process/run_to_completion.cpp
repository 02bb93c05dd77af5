#include "daemon/process/run_to_completion.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>

extern char** environ;  // NOLINT: POSIX

namespace tether::process {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);  // NOLINT(concurrency-mt-unsafe)
}

// The daemon's environment with `extra` replacing variables of the same name.
std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const bool replaced = std::any_of(extra.begin(), extra.end(), [&](const auto& variable) {
      const std::string& name = variable.first;
      return entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=';
    });
    if (!replaced) out.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) {
    std::string entry = name;
    entry += '=';
    entry += value;
    out.push_back(std::move(entry));
  }
  return out;
}

void keep_output(std::string& out, const char* data, std::size_t length, const ProgramRun& run) {
  if (run.keep == ProgramRun::Keep::kHead) {
    const std::size_t room = run.max_output - std::min(run.max_output, out.size());
    out.append(data, std::min(room, length));
    return;
  }
  out.append(data, length);
  if (out.size() > run.max_output) out.erase(0, out.size() - run.max_output);
}

}  // namespace

std::string ProgramOutcome::describe(std::chrono::milliseconds timeout) const {
  switch (ended) {
    case Ended::kExited:
      return "exited with status " + std::to_string(code);
    case Ended::kSignalled:
      return "killed by signal " + std::to_string(code);
    case Ended::kTimedOut:
      return "timed out after " + std::to_string(std::chrono::duration<double>(timeout).count()) +
             "s";
    case Ended::kAbandoned:
      return "abandoned";
  }
  return {};
}

Result<ProgramOutcome> run_to_completion(const ProgramRun& run) {
  if (run.argv.empty()) return Error(ErrorCode::kInvalidArgument, "no program to run");
  std::array<int, 2> pipe_fds{-1, -1};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    return Error(ErrorCode::kIo, run.argv[0] + ": cannot make a pipe: " + errno_text(errno));
  }
  std::vector<std::string> argv_text = run.argv;
  std::vector<char*> argv;
  argv.reserve(argv_text.size() + 1);
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_text = child_environment(run.environment);
  std::vector<char*> envp;
  envp.reserve(env_text.size() + 1);
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  if (run.capture_stderr) {
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    return Error(ErrorCode::kIo, "cannot start " + run.argv[0] + ": " + errno_text(spawned));
  }

  ProgramOutcome outcome;
  const auto deadline = std::chrono::steady_clock::now() + run.timeout;
  auto abandoned = [&] { return run.abandon && run.abandon(); };
  bool timed_out = false;
  std::array<char, 4096> buffer{};
  for (bool open = true; open;) {
    if (abandoned()) {
      ::close(pipe_fds[0]);
      outcome.ended = ProgramOutcome::Ended::kAbandoned;
      return outcome;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fd{pipe_fds[0], POLLIN, 0};
    // Short slices, so that an abandon is noticed soon.
    const int ready = ::poll(&fd, 1, static_cast<int>(std::min<long>(left.count(), 100)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::read(pipe_fds[0], buffer.data(), buffer.size());
    if (n > 0) {
      keep_output(outcome.output, buffer.data(), static_cast<std::size_t>(n), run);
    } else if (n == 0 || errno != EINTR) {
      open = false;
    }
  }
  ::close(pipe_fds[0]);
  // The output closed (or the clock ran out): the program itself may still be
  // running after closing its output, so the deadline holds while reaping too.
  int status = 0;
  for (;;) {
    if (timed_out) ::kill(-pid, SIGKILL);
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid) break;
    if (reaped < 0 && errno != EINTR) {
      return Error(ErrorCode::kIo, run.argv[0] + ": waitpid: " + errno_text(errno));
    }
    if (!timed_out && abandoned()) {
      outcome.ended = ProgramOutcome::Ended::kAbandoned;
      return outcome;
    }
    if (std::chrono::steady_clock::now() >= deadline) timed_out = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);  // anything left of its group
    outcome.ended = ProgramOutcome::Ended::kTimedOut;
  } else if (WIFEXITED(status)) {
    outcome.ended = ProgramOutcome::Ended::kExited;
    outcome.code = WEXITSTATUS(status);
  } else {
    outcome.ended = ProgramOutcome::Ended::kSignalled;
    outcome.code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return outcome;
}

}  // namespace tether::process
