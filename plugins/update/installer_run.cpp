#include "plugins/update/installer_run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

extern char** environ;  // NOLINT: POSIX

namespace tether::plugins::update {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);  // NOLINT(concurrency-mt-unsafe)
}

void keep_tail(std::string& out, const char* data, std::size_t length, std::size_t limit) {
  out.append(data, length);
  if (out.size() > limit) out.erase(0, out.size() - limit);
}

}  // namespace

Result<InstallerOutcome> run_installer(const InstallerRequest& request, CancelToken& stop) {
  std::array<int, 2> pipe_fds{-1, -1};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    return Error(ErrorCode::kIo, "pipe: " + errno_text(errno));
  }
  // The child's environment: the daemon's, with the update's variables replacing any
  // of the same name.
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool replaced = false;
    for (const auto& [name, value] : request.environment) {
      replaced = replaced || (entry.starts_with(name) && entry.size() > name.size() &&
                              entry[name.size()] == '=');
    }
    if (!replaced) env_text.emplace_back(entry);
  }
  for (const auto& [name, value] : request.environment) {
    std::string entry = name;
    entry += '=';
    entry += value;
    env_text.push_back(std::move(entry));
  }
  std::vector<char*> envp;
  envp.reserve(env_text.size() + 2);
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string program = request.installer;
  std::string artifact = request.artifact;
  std::vector<char*> argv{program.data(), artifact.data(), nullptr};
  std::string shell = "/bin/sh";
  std::string dash_c = "-c";
  std::string wrapper =
      "\"$0\" \"$1\"; s=$?; printf '%s\\n' \"$s\" > \"$TETHER_UPDATE_STATUS_FILE.tmp\" && "
      "mv -f \"$TETHER_UPDATE_STATUS_FILE.tmp\" \"$TETHER_UPDATE_STATUS_FILE\"; exit $s";
  std::string status_variable = "TETHER_UPDATE_STATUS_FILE=" + request.status_file;
  if (!request.status_file.empty()) {
    argv = {shell.data(), dash_c.data(), wrapper.data(), program.data(), artifact.data(), nullptr};
    envp.insert(envp.end() - 1, status_variable.data());
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawnattr_init(&attributes);
  // Its own process group, so that a timeout kills whatever it started too; default
  // signal dispositions and an empty mask (the daemon blocks signals for signalfd).
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
    return Error(ErrorCode::kIo,
                 "cannot start " + std::string(argv[0]) + ": " + errno_text(spawned));
  }

  InstallerOutcome outcome;
  const auto deadline = std::chrono::steady_clock::now() + request.timeout;
  bool timed_out = false;
  bool open = true;
  std::array<char, 4096> buffer{};
  while (open) {
    if (stop.cancelled()) {
      ::close(pipe_fds[0]);
      return Error(ErrorCode::kUnavailable, "the daemon is stopping; the installer runs on");
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fd{pipe_fds[0], POLLIN, 0};
    // Short slices, so that a stop is noticed soon.
    const int ready = ::poll(&fd, 1, static_cast<int>(std::min<long>(left.count(), 100)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::read(pipe_fds[0], buffer.data(), buffer.size());
    if (n > 0) {
      keep_tail(outcome.output_tail, buffer.data(), static_cast<std::size_t>(n),
                request.max_output);
    } else if (n == 0 || errno != EINTR) {
      open = false;
    }
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  // The output closed (or the clock ran out): the installer itself may still be
  // running after closing its output, so keep honouring the deadline while reaping.
  int status = 0;
  for (;;) {
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid) break;
    if (reaped < 0 && errno != EINTR) return Error(ErrorCode::kIo, "waitpid: " + errno_text(errno));
    if (!timed_out && std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
    }
    if (stop.wait_for(std::chrono::milliseconds(20)) && !timed_out) {
      return Error(ErrorCode::kUnavailable, "the daemon is stopping; the installer runs on");
    }
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);  // anything left of its group
    outcome.reason = "timed out after " +
                     std::to_string(std::chrono::duration<double>(request.timeout).count()) + "s";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    outcome.success = true;
  } else if (WIFEXITED(status)) {
    outcome.reason = "exited with status " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    outcome.reason = "killed by signal " + std::to_string(WTERMSIG(status));
  }
  return outcome;
}

}  // namespace tether::plugins::update
