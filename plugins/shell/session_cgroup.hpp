// Remote-shell sessions in cgroups of their own (cgroup v2), under the daemon's own
// cgroup: the containment that ends every process of a session without hiding any
// (see docs/shell.md, "Containment").
//
// Layout, for a daemon whose cgroup is <own> (the unit's cgroup under systemd):
//   <own>/tether-shell/            the sessions directory, held with flock() by one
//                                  daemon (a second daemon in the same cgroup takes
//                                  tether-shell-1, ...)
//   <own>/tether-shell/session-N/  one session: its shell and everything it starts
// The daemon itself stays in <own>. cgroup v2 forbids processes in a cgroup only
// when domain controllers are enabled in its cgroup.subtree_control; nothing here
// enables any (cgroup.kill, cgroup.procs and cgroup.events need none), so the daemon
// need not move itself into a leaf.
//
// A session cgroup outlives a daemon killed with -9: the next daemon that takes the
// same sessions directory ends what is left in it (end_leftovers).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/shell/unique_fd.hpp"
#include "protocol/result.hpp"

namespace tether::plugins::shell {

// The mount point of the cgroup v2 hierarchy and its root, from the text of
// /proc/self/mountinfo; nullopt if none is mounted. Octal escapes (\040) are decoded.
struct Cgroup2Mount {
  std::string mount_point;
  std::string root;  // the hierarchy path mounted there, "/" unless bind-mounted
};
std::optional<Cgroup2Mount> find_cgroup2_mount(std::string_view mountinfo);

// The process's cgroup v2 path (the "0::" line of /proc/self/cgroup); nullopt if
// there is none (a pure cgroup v1 system) or it is unusable (deleted).
std::optional<std::string> own_cgroup2_path(std::string_view proc_self_cgroup);

// The directory of `path` under `mount`, or nullopt if `path` is outside the mount.
std::optional<std::string> cgroup_directory(const Cgroup2Mount& mount, std::string_view path);

// One session's cgroup. Not copyable; the owner decides when it is removed.
class SessionCgroup {
 public:
  SessionCgroup(std::string directory, UniqueFd procs);
  SessionCgroup(SessionCgroup&&) = default;
  SessionCgroup& operator=(SessionCgroup&&) = default;
  ~SessionCgroup() = default;

  const std::string& directory() const { return directory_; }
  // Write-only cgroup.procs, close-on-exec: a new process joins the cgroup by
  // writing "0" to it (see PtyProcess::spawn).
  int procs_fd() const { return procs_.get(); }

  // Every process in the cgroup gets SIGKILL, atomically with respect to fork
  // (cgroup.kill, Linux >= 5.14). Processes that are exiting take a moment to go.
  Status kill() const;
  // Sends `signal` to at most `limit` members (SIGCONT after SIGHUP so that stopped
  // jobs receive it) and returns how many were signalled. A courtesy before kill();
  // one bounded read of cgroup.procs, no /proc scan.
  std::size_t signal_members(int signal, std::size_t limit) const;
  // Pids of at most `limit` members.
  std::vector<pid_t> members(std::size_t limit) const;
  // True while any process is in the cgroup (cgroup.events "populated 1").
  bool populated() const;
  // Removes the empty cgroup; false while processes are still leaving (EBUSY).
  bool remove();
  bool removed() const { return removed_; }

 private:
  std::string directory_;
  UniqueFd procs_;
  bool removed_ = false;
};

// The sessions directory of this daemon.
class SessionCgroups {
 public:
  // Finds the daemon's cgroup v2 directory, checks that the daemon may create cgroups
  // there, and takes a sessions directory (creating it if needed). Fails, with the
  // reason, where no cgroup can be used: no cgroup v2 mount, no write access, a
  // cgroup that systemd did not delegate (no Delegate=yes), or no cgroup.kill.
  static Result<SessionCgroups> open();

  SessionCgroups(SessionCgroups&&) = default;
  SessionCgroups& operator=(SessionCgroups&&) = default;
  // Removes the sessions directory if no session cgroup is left in it.
  ~SessionCgroups();

  const std::string& directory() const { return directory_; }

  // Creates the cgroup of a new session.
  Result<SessionCgroup> create();

  // Kills every process of the session cgroups left by daemons that died with -9:
  // those in this daemon's sessions directory and in any other sessions directory
  // that no live daemon holds. Hands them back for removal once they are empty.
  // Call once, at start.
  std::vector<SessionCgroup> end_leftovers();

 private:
  struct Stale {
    std::string directory;
    UniqueFd lock;
  };
  SessionCgroups(std::string directory, UniqueFd lock, std::vector<Stale> stale)
      : directory_(std::move(directory)), lock_(std::move(lock)), stale_(std::move(stale)) {}

  std::string directory_;
  UniqueFd lock_;  // flock()ed directory: the directory is ours while this is open
  // Other sessions directories no live daemon held at open(): locked until
  // end_leftovers() has ended what they hold.
  std::vector<Stale> stale_;
  unsigned next_ = 1;
};

}  // namespace tether::plugins::shell
