// Test-process hygiene. Killing a job whose shell is already gone leaves an orphan
// that the kernel hands to the nearest "child subreaper", else to PID 1. Where PID 1
// does not reap (some containers), each test would leave zombies behind. The test
// binary makes itself a subreaper and reaps those adopted orphans once the plugin's
// own shells are finished, so nothing accumulates; the plugin's reaping of its
// shells is checked separately (a finished session's shell is not our zombie).
#pragma once

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace tether::plugins::shell::test {

inline void become_subreaper() {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

// Reaps every exited child. Call only when no shell of a live session is a child.
inline void reap_orphans() {
  siginfo_t info{};
  while (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0) {
    info = siginfo_t{};
  }
}

// True when `pid` is a zombie whose parent is this process.
inline bool is_our_zombie(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* file = std::fopen(path, "r");
  if (file == nullptr) {
    return false;
  }
  char buf[512] = {};
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, file);
  std::fclose(file);
  std::string stat(buf, n);
  std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 4 >= stat.size()) {
    return false;
  }
  char state = stat[paren + 2];
  long parent = std::strtol(stat.c_str() + paren + 4, nullptr, 10);
  return state == 'Z' && parent == ::getpid();
}

}  // namespace tether::plugins::shell::test
