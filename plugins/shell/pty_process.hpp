// A program started on a fresh pseudo-terminal, as a given user, in a session of
// its own: the shell of one remote-shell session.
//
// How the child is made, and why:
// - clone(CLONE_VM | CLONE_VFORK) with a small private stack, the way glibc's
//   posix_spawn works inside. Nothing of the daemon's address space is copied, so
//   starting a shell costs the same whether the daemon is 5 MB or 500 MB, and the
//   event loop thread is suspended only until the child calls execve (well under a
//   millisecond). posix_spawn itself cannot be used: it has no way to set the
//   controlling terminal (TIOCSCTTY) or to change the uid and groups.
// - Everything that allocates or may block (user lookup, argv and environment,
//   opening the PTY, chown of the slave) is done in the parent before the clone.
//   Between clone and execve the child makes only raw system calls. Even
//   setuid(3)/setgroups(3) are avoided there: in a multi-threaded program glibc
//   implements them by signalling every thread, which in a CLONE_VM child would
//   address the parent's threads.
// - CLONE_PIDFD hands back a pidfd atomically, so the exit can be watched on the
//   event loop and reaped with waitid(P_PIDFD) without a SIGCHLD handler or
//   waitpid(-1), either of which would steal the children of other handlers.
// - PR_SET_PDEATHSIG(SIGKILL) makes the kernel kill the shell when the daemon dies,
//   even by kill -9. The signal follows the death of the *thread* that created the
//   child, so spawn() must be called from a thread that lives as long as the
//   sessions: the event loop thread (never a worker of a pool that may shrink).
//   It is set after the uid change, because a credential change clears it.
// - No namespace of any kind: the shell sees the device as a local login would
//   ($$, ps, kill name the same processes as everywhere else). What keeps the
//   session's processes together is PtyProcess::Containment, set up before execve.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "plugins/shell/terminal_size.hpp"
#include "plugins/shell/unique_fd.hpp"
#include "plugins/shell/user_account.hpp"
#include "protocol/result.hpp"

namespace tether::plugins::shell {

// How a process ended, as a shell reports it in $?: the exit status, or 128 plus the
// number of the signal that killed it.
struct ExitStatus {
  int code = 0;
  bool signaled = false;
};

class PtyProcess {
 public:
  // How the child is held together with everything it starts (docs/shell.md,
  // "Containment"); both are done in the child before the identity change.
  struct Containment {
    // The write-only cgroup.procs of the session's cgroup: the child moves itself
    // there, so nothing it ever starts is outside. -1 for none.
    int cgroup_procs_fd = -1;
    // Makes the shell a child subreaper: orphans of the session are re-parented to
    // it rather than escaping to init (the process-tree fallback).
    bool child_subreaper = false;
  };

  // Starts `command` (an absolute path) on a new PTY of `size` as `user`, with a
  // clean environment (HOME, USER, LOGNAME, SHELL, PATH, TERM=xterm-256color) and
  // cwd = home (falls back to / when home is not accessible). The master is
  // non-blocking and close-on-exec.
  static Result<PtyProcess> spawn(const std::string& command, const UserAccount& user,
                                  TerminalSize size, const Containment& containment);

  PtyProcess(PtyProcess&&) = default;
  PtyProcess& operator=(PtyProcess&&) = default;
  // Does not kill or reap: the owner decides how a session ends.
  ~PtyProcess() = default;

  int master() const { return master_.get(); }
  int pidfd() const { return pidfd_.get(); }
  // Also the session id and process group id of the child.
  pid_t pid() const { return pid_; }

  Status resize(TerminalSize size);

  // How the child ended, once it has; nullopt while it runs. Does not reap: the
  // zombie keeps the pid, and with it the session id, from being reused while the
  // rest of the session is still being found and killed by that id.
  std::optional<ExitStatus> exit_status();
  // Reaps the exited child (waits at most `timeout` for a child that was just
  // SIGKILLed). Returns false if it is still not gone.
  bool reap(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  bool reaped() const { return reaped_; }

  // Closes the master: the terminal hangs up for whatever still holds the slave.
  void close_master() { master_.reset(); }

 private:
  PtyProcess(UniqueFd master, UniqueFd pidfd, pid_t pid)
      : master_(std::move(master)), pidfd_(std::move(pidfd)), pid_(pid) {}

  UniqueFd master_;
  UniqueFd pidfd_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> exit_;
  bool reaped_ = false;
};

}  // namespace tether::plugins::shell
