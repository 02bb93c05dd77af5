// The processes of a remote-shell session where no cgroup can be used (the
// process-tree fallback of docs/shell.md, "Containment").
//
// Without a cgroup the kernel keeps no record of "the session's processes", so it is
// rebuilt from /proc when the session ends: the shell, everything below it, every
// process whose session id is the shell's pid (a job whose parent exited), and every
// process below a child of the daemon that is not one of its shells. The last group
// exists because the daemon is a child subreaper in this mode and each shell is one
// too (PR_SET_CHILD_SUBREAPER): an orphan of a session (a double-forked daemon,
// `setsid nohup … &` whose parent exited) is re-parented to the shell while it runs,
// and to the daemon once the shell has exited, never to init; so an orphan under
// the daemon can only come from a session whose shell is gone.
//
// Reading /proc costs one small read per process on the device, unbounded in
// principle: collect_session_members() blocks and runs on a worker thread, never on
// the event loop. Signalling goes through pidfds opened during the scan, so a pid
// reused after the scan is never hit.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "plugins/shell/unique_fd.hpp"

namespace tether::plugins::shell {

// One line of the process table: fields 1, 3, 4 (ppid), 6 (session) and 22 (start
// time) of /proc/PID/stat.
struct ProcessEntry {
  pid_t pid = 0;
  char state = '?';
  pid_t parent = 0;
  pid_t session = 0;
  std::uint64_t start_time = 0;
};

// Parses the text of /proc/PID/stat (the command name may hold spaces and
// parentheses, so fields are counted from the last ')'). False on garbage.
bool parse_proc_stat(std::string_view text, ProcessEntry& out);

// Every process in /proc. Blocking: a worker thread only.
std::vector<ProcessEntry> read_process_table();

// A process of the session in a snapshot. `adopted_under` is 0 when the process was
// reached from the shell (or its session id), else the pid of the daemon's child it
// was found under: the caller must drop it if that pid is, by now, one of its own
// shells (a shell started while the snapshot was taken).
struct MemberRef {
  pid_t pid = 0;
  bool zombie = false;
  pid_t adopted_under = 0;
};

// The members of the session of `shell` in `table` (see the top of this file); the
// daemon's pid is `daemon`. Pure, for tests.
std::vector<MemberRef> session_membership(const std::vector<ProcessEntry>& table, pid_t shell,
                                          pid_t daemon);

struct SessionMember {
  MemberRef ref;
  UniqueFd pidfd;  // opened after the scan and checked against its start time
};

// Scans /proc and opens a pidfd for each member of the session of `shell`. Blocking:
// a worker thread only.
std::vector<SessionMember> collect_session_members(pid_t shell, pid_t daemon);

// Sends `signal` to every live member (SIGCONT after SIGHUP, so that stopped jobs
// receive it) and returns how many were signalled. Cheap: one syscall per member.
std::size_t signal_members(const std::vector<SessionMember>& members, int signal);

}  // namespace tether::plugins::shell
