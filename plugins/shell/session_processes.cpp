#include "plugins/shell/session_processes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <map>
#include <set>

namespace tether::plugins::shell {
namespace {

template <typename Number>
bool next_number(std::string_view& rest, Number& out) {
  while (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);
  }
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), out);
  if (error != std::errc()) {
    return false;
  }
  rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
  return true;
}

bool skip_fields(std::string_view& rest, int count) {
  for (int i = 0; i < count; ++i) {
    long long ignored = 0;
    if (!next_number(rest, ignored)) {
      return false;
    }
  }
  return true;
}

bool read_entry(pid_t pid, ProcessEntry& out) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return false;
  }
  char buf[1024];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf);
  return n > 0 && parse_proc_stat(std::string_view(buf, static_cast<std::size_t>(n)), out);
}

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

int pidfd_send_signal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0U));
}

}  // namespace

bool parse_proc_stat(std::string_view text, ProcessEntry& out) {
  std::string_view rest = text;
  pid_t pid = 0;
  if (!next_number(rest, pid) || pid <= 0) {
    return false;
  }
  const std::size_t close_paren = text.rfind(')');
  if (close_paren == std::string_view::npos || close_paren + 2 >= text.size() ||
      text[close_paren + 1] != ' ') {
    return false;
  }
  rest = text.substr(close_paren + 2);
  const char state = rest.front();
  rest.remove_prefix(1);
  ProcessEntry entry;
  entry.pid = pid;
  entry.state = state;
  // After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime.
  if (!next_number(rest, entry.parent) || !skip_fields(rest, 1) ||
      !next_number(rest, entry.session) || !skip_fields(rest, 15) ||
      !next_number(rest, entry.start_time)) {
    return false;
  }
  out = entry;
  return true;
}

std::vector<ProcessEntry> read_process_table() {
  std::vector<ProcessEntry> table;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return table;
  }
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = 0;
    const std::string_view name = entry->d_name;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc() ||
        pid <= 0) {
      continue;
    }
    ProcessEntry process;
    if (read_entry(pid, process)) {
      table.push_back(process);
    }
  }
  ::closedir(proc);
  return table;
}

std::vector<MemberRef> session_membership(const std::vector<ProcessEntry>& table, pid_t shell,
                                          pid_t daemon) {
  std::vector<MemberRef> members;
  if (shell <= 1) {
    return members;  // never init's or the kernel's tree
  }
  std::multimap<pid_t, const ProcessEntry*> children;
  for (const ProcessEntry& entry : table) {
    children.emplace(entry.parent, &entry);
  }
  std::set<pid_t> seen;
  // Everything below `root` (and root itself), attributed to `adopted_under`.
  auto take_tree = [&](const ProcessEntry& root, pid_t adopted_under) {
    std::vector<const ProcessEntry*> pending = {&root};
    while (!pending.empty()) {
      const ProcessEntry* entry = pending.back();
      pending.pop_back();
      if (entry->pid <= 1 || entry->pid == daemon || !seen.insert(entry->pid).second) {
        continue;
      }
      members.push_back(
          MemberRef{entry->pid, entry->state == 'Z' || entry->state == 'X', adopted_under});
      auto [first, last] = children.equal_range(entry->pid);
      for (auto it = first; it != last; ++it) {
        pending.push_back(it->second);
      }
    }
  };
  for (const ProcessEntry& entry : table) {
    if (entry.pid == shell || entry.session == shell) {
      take_tree(entry, 0);
    }
  }
  if (daemon > 1) {
    for (const ProcessEntry& entry : table) {
      if (entry.parent == daemon && entry.pid != shell) {
        take_tree(entry, entry.pid);
      }
    }
  }
  return members;
}

std::vector<SessionMember> collect_session_members(pid_t shell, pid_t daemon) {
  const std::vector<ProcessEntry> table = read_process_table();
  std::map<pid_t, std::uint64_t> start_times;
  for (const ProcessEntry& entry : table) {
    start_times[entry.pid] = entry.start_time;
  }
  std::vector<SessionMember> members;
  for (const MemberRef& ref : session_membership(table, shell, daemon)) {
    UniqueFd pidfd(pidfd_open(ref.pid));
    ProcessEntry now;
    // The pid may have been reused between the scan and pidfd_open: the start time
    // tells a new process from the scanned one.
    if (!pidfd.valid() || !read_entry(ref.pid, now) || now.start_time != start_times[ref.pid]) {
      continue;
    }
    members.push_back(SessionMember{ref, std::move(pidfd)});
  }
  return members;
}

std::size_t signal_members(const std::vector<SessionMember>& members, int signal) {
  std::size_t signalled = 0;
  for (const SessionMember& member : members) {
    if (member.ref.zombie || pidfd_send_signal(member.pidfd.get(), signal) < 0) {
      continue;
    }
    if (signal == SIGHUP) {
      pidfd_send_signal(member.pidfd.get(), SIGCONT);
    }
    ++signalled;
  }
  return signalled;
}

}  // namespace tether::plugins::shell
