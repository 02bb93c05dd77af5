// Holding every process of a remote-shell session together, so that all of them end
// with the session, without hiding any PID (docs/shell.md, "Containment").
//
// Two ways, chosen once per daemon by shell.containment:
// - cgroup: each session in a cgroup v2 of its own under the daemon's cgroup
//   (SessionCgroups). Membership is kept by the kernel through any fork, setsid or
//   double fork; cgroup.kill ends it in one step; a daemon killed with -9 leaves the
//   cgroup behind and the next daemon ends it at start.
// - process tree (no cgroup can be made): the daemon and each shell are child
//   subreapers, so no orphan of a session escapes to init, and the session's
//   processes are found by a /proc walk on a worker thread (session_processes.hpp).
//   Orphans the daemon adopts are reaped by a ChildReaper.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/loop/event_loop.hpp"
#include "plugins/shell/child_reaper.hpp"
#include "plugins/shell/pty_process.hpp"
#include "plugins/shell/session_cgroup.hpp"
#include "plugins/shell/session_processes.hpp"
#include "plugins/shell/shell_options.hpp"
#include "protocol/result.hpp"

namespace tether::plugins::shell {

class SessionContainment;

class Containment {
 public:
  // Chooses the way for `mode`. With cgroups, ends what a previous daemon left in
  // its session cgroups. In the process-tree way, makes the daemon a child
  // subreaper. `is_shell(pid)` tells whether pid is the shell of a live session
  // (of any session: an orphan found under the daemon is never one of those).
  Containment(daemon::EventLoop& loop, ContainmentMode mode, std::function<bool(pid_t)> is_shell);
  // Removes the session cgroups (waiting at most a moment for their last
  // processes to go) and reaps what it can.
  ~Containment();
  Containment(const Containment&) = delete;
  Containment& operator=(const Containment&) = delete;

  bool uses_cgroups() const { return cgroups_.has_value(); }
  // What is used, and why not cgroups where they are not: for the daemon's log.
  const std::string& description() const { return description_; }
  // Session cgroups of a previous daemon ended at start.
  std::size_t leftovers_ended() const { return leftovers_ended_; }

  // The containment of a new session, before its shell is spawned. Fails when
  // shell.containment = cgroup and no cgroup can be made.
  Result<std::unique_ptr<SessionContainment>> prepare();

 private:
  friend class SessionContainment;
  // Removes a cgroup whose processes were killed, as soon as it is empty.
  void retire(SessionCgroup cgroup);
  void remove_retired();

  daemon::EventLoop& loop_;
  std::function<bool(pid_t)> is_shell_;
  std::optional<SessionCgroups> cgroups_;
  std::optional<Error> cgroup_error_;  // set when cgroups are required but unusable
  std::string description_;
  std::size_t leftovers_ended_ = 0;
  std::vector<SessionCgroup> retired_;
  daemon::Timer retire_timer_;
  int retire_attempts_ = 0;
  ChildReaper reaper_;
};

// One session's share. Owned by the session; ends with it.
class SessionContainment {
 public:
  // Kills what is left (cgroup.kill) and hands the cgroup over for removal.
  ~SessionContainment();
  SessionContainment(const SessionContainment&) = delete;
  SessionContainment& operator=(const SessionContainment&) = delete;

  // What PtyProcess::spawn must do in the child.
  PtyProcess::Containment spawn_settings() const;
  // The shell's pid, once spawned.
  void bind(pid_t shell) { shell_ = shell; }

  // Sends SIGHUP (and SIGCONT) to every process of the session: a courtesy before
  // kill_all, so that programs may save their work. Asynchronous in the
  // process-tree way.
  void hang_up();
  // SIGKILLs every process of the session, then calls `done` on the loop: with a
  // cgroup, once the cgroup is empty (cgroup.events says so within milliseconds;
  // at most 2 s); in the process-tree way, after the /proc walks, repeated until a
  // walk finds nothing alive. `done` is not called if this object is destroyed
  // first.
  void kill_all(std::function<void()> done);
  // The same, blocking, for destruction after the loop has stopped.
  void kill_all_now();

 private:
  friend class Containment;
  SessionContainment(Containment& owner, std::optional<SessionCgroup> cgroup);
  void walk(int signal, int rounds_left, std::function<void()> done);
  // Calls `done` once the cgroup is empty (or after kEmptyWait, whichever is first).
  void when_empty(int polls_left, std::function<void()> done);
  // Signals the members of one walk (on the loop) and returns how many were alive.
  std::size_t apply(std::vector<SessionMember>& members, int signal);

  Containment& owner_;
  std::optional<SessionCgroup> cgroup_;
  pid_t shell_ = -1;
  std::shared_ptr<bool> alive_;  // callbacks of walks check it
  daemon::Timer empty_timer_;
};

}  // namespace tether::plugins::shell
