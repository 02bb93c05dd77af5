#include "plugins/shell/child_reaper.hpp"

#include <sys/syscall.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>

namespace tether::plugins::shell {
namespace {

// A killed process is gone within milliseconds; one in uninterruptible sleep may
// take longer. Checking ten times a second costs a few syscalls per watched process.
constexpr std::chrono::milliseconds kSweepInterval{100};
// Each watched process holds a descriptor: a session that forked without bound must
// not exhaust the daemon's. Beyond this many, the oldest pid is forgotten (its
// zombie, if it becomes ours, is collected by nobody until the daemon exits).
constexpr std::size_t kMaxWatched = 4096;

// True when the process of `pidfd` has been reaped (by us or by its parent).
bool gone(int pidfd) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0U) < 0 && errno == ESRCH;
}

}  // namespace

ChildReaper::ChildReaper(daemon::EventLoop& loop) : timer_(loop) {}

ChildReaper::~ChildReaper() {
  timer_.cancel();
  sweep();
}

void ChildReaper::watch(pid_t pid, UniqueFd pidfd) {
  if (!pidfd.valid()) {
    return;
  }
  if (pidfds_.size() >= kMaxWatched && pidfds_.find(pid) == pidfds_.end()) {
    pidfds_.erase(pidfds_.begin());
  }
  pidfds_[pid] = std::move(pidfd);
  schedule();
}

std::size_t ChildReaper::sweep() {
  for (auto it = pidfds_.begin(); it != pidfds_.end();) {
    siginfo_t info{};
    const int fd = it->second.get();
    const int waited = ::waitid(P_PIDFD, static_cast<id_t>(fd), &info, WEXITED | WNOHANG);
    const bool reaped = waited == 0 && info.si_pid != 0;
    // ECHILD: not (yet) ours; it becomes ours if its parent dies before reaping it.
    const bool forgotten = waited < 0 && errno == ECHILD && gone(fd);
    if (reaped || forgotten) {
      it = pidfds_.erase(it);
    } else {
      ++it;
    }
  }
  return pidfds_.size();
}

void ChildReaper::schedule() {
  if (!timer_.pending() && !pidfds_.empty()) {
    timer_.start(kSweepInterval, [this] { on_timer(); });
  }
}

void ChildReaper::on_timer() {
  if (sweep() > 0) {
    timer_.start(kSweepInterval, [this] { on_timer(); });
  }
}

}  // namespace tether::plugins::shell
