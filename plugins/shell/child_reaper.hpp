// Reaps the orphans of remote-shell sessions that the daemon adopts as a child
// subreaper (the process-tree fallback, docs/shell.md "Containment").
//
// Why not a SIGCHLD handler or waitpid(-1): either would also reap children that
// other parts of the daemon wait for through their own pidfds (each shell's exit
// status is read that way). The reaper only ever waits on the processes it is handed
// (pidfds of session members found while ending a session): each is reaped if and
// once it is the daemon's zombie, and forgotten once it is gone.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>

#include "daemon/loop/event_loop.hpp"
#include "plugins/shell/unique_fd.hpp"

namespace tether::plugins::shell {

class ChildReaper {
 public:
  explicit ChildReaper(daemon::EventLoop& loop);
  // Reaps what has exited; what still runs is left to the next subreaper.
  ~ChildReaper();
  ChildReaper(const ChildReaper&) = delete;
  ChildReaper& operator=(const ChildReaper&) = delete;

  // Watches a process that is, or may become (once its parent dies), the daemon's
  // child. A second pidfd for the same pid replaces the first.
  void watch(pid_t pid, UniqueFd pidfd);
  // Reaps every watched process that is the daemon's zombie now; forgets those
  // that are gone. Returns how many are still watched.
  std::size_t sweep();
  std::size_t watched() const { return pidfds_.size(); }

 private:
  void schedule();
  void on_timer();

  daemon::Timer timer_;
  std::map<pid_t, UniqueFd> pidfds_;
};

}  // namespace tether::plugins::shell
