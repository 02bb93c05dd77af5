// Looking at processes from a test: is a pid alive, which processes are still in a
// session, and waiting for them to go. Test-only (it scans /proc on the calling
// thread, which the daemon never does on its loop).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "plugins/shell/session_processes.hpp"

namespace tether::plugins::shell::test {

inline std::string read_stat_text(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(in, text);
  return text;
}

// True when `pid` is a process that has not exited (zombies count as gone).
inline bool alive(pid_t pid) {
  if (pid <= 1) {
    return false;
  }
  const std::string text = read_stat_text(pid);
  ProcessEntry entry;
  return parse_proc_stat(text, entry) && entry.state != 'Z' && entry.state != 'X';
}

// The live processes below `shell` or in its session (not adopted orphans).
inline std::vector<pid_t> live_members(pid_t shell) {
  std::vector<pid_t> live;
  for (const MemberRef& member : session_membership(read_process_table(), shell, 0)) {
    if (!member.zombie) {
      live.push_back(member.pid);
    }
  }
  return live;
}

// Waits until none of `pids` is alive; false if one still is after `timeout`.
inline bool all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    bool any = false;
    for (pid_t pid : pids) {
      any = any || alive(pid);
    }
    if (!any) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Reads a pid that a shell wrote to `path`, waiting for it to appear.
inline pid_t read_pid_file(const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    pid_t pid = 0;
    if (in >> pid && pid > 1) {
      return pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

// The parent of `pid` (field 4 of /proc/PID/stat), or -1.
inline pid_t parent_of(pid_t pid) {
  const std::string text = read_stat_text(pid);
  ProcessEntry entry;
  return parse_proc_stat(text, entry) ? entry.parent : -1;
}

}  // namespace tether::plugins::shell::test
