#include "plugins/shell/session_processes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "plugins/shell/unique_fd.hpp"

namespace tether::plugins::shell {
namespace {

struct ProcStat {
  char state = '?';
  pid_t session = 0;
};

// Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
bool read_stat(const char* pid_name, ProcStat& out) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%s/stat", pid_name);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return false;
  }
  char buf[1024];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) {
    return false;
  }
  std::string_view text(buf, static_cast<std::size_t>(n));
  std::size_t close_paren = text.rfind(')');
  if (close_paren == std::string_view::npos || close_paren + 2 >= text.size()) {
    return false;
  }
  // After ") ": state ppid pgrp session ...
  buf[n] = '\0';
  const char* p = buf + close_paren + 2;
  out.state = *p;
  char* end = nullptr;
  (void)std::strtol(p + 1, &end, 10);  // ppid
  (void)std::strtol(end, &end, 10);    // pgrp
  long session = std::strtol(end, &end, 10);
  out.session = static_cast<pid_t>(session);
  return true;
}

}  // namespace

std::vector<pid_t> live_processes_in_session(pid_t session_id) {
  std::vector<pid_t> pids;
  if (session_id <= 1) {
    return pids;  // never scan for init's or the kernel's session
  }
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return pids;
  }
  while (dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') {
      continue;
    }
    ProcStat stat;
    if (read_stat(entry->d_name, stat) && stat.session == session_id && stat.state != 'Z' &&
        stat.state != 'X') {
      pids.push_back(static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10)));
    }
  }
  ::closedir(proc);
  return pids;
}

std::size_t signal_session(pid_t session_id, int signal) {
  std::vector<pid_t> pids = live_processes_in_session(session_id);
  for (pid_t pid : pids) {
    ::kill(pid, signal);
    if (signal == SIGHUP) {
      ::kill(pid, SIGCONT);
    }
  }
  return pids.size();
}

std::size_t kill_session(pid_t session_id, int rounds) {
  std::size_t left = 0;
  for (int round = 0; round < rounds; ++round) {
    left = signal_session(session_id, SIGKILL);
    if (left == 0) {
      break;
    }
  }
  return left;
}

}  // namespace tether::plugins::shell
