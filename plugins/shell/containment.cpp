#include "plugins/shell/containment.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "plugins/shell/session_processes.hpp"

namespace tether::plugins::shell {
namespace {

// A SIGHUP courtesy reaches at most this many processes of one session (one bounded
// read of cgroup.procs); cgroup.kill then reaches every one.
constexpr std::size_t kHangUpLimit = 1024;
// Walks of the process tree until one finds nothing alive: a process may fork
// between a walk and its SIGKILL, and its child is found by the next walk.
constexpr int kKillWalks = 8;
// How often an emptied session cgroup is tried for removal, and for how long.
constexpr std::chrono::milliseconds kRetireInterval{50};
constexpr int kRetireAttempts = 200;  // 10 s: then the next daemon start removes it
// Killed processes leave their cgroup within a millisecond or so, unless one is in
// uninterruptible sleep: poll this often, this many times (2 s).
constexpr std::chrono::milliseconds kEmptyPoll{2};
constexpr int kEmptyPolls = 1000;
// At exit, how long the daemon waits for killed sessions to leave their cgroups.
constexpr std::chrono::milliseconds kExitWait{1000};

}  // namespace

Containment::Containment(daemon::EventLoop& loop, ContainmentMode mode,
                         std::function<bool(pid_t)> is_shell)
    : loop_(loop), is_shell_(std::move(is_shell)), retire_timer_(loop), reaper_(loop) {
  if (mode != ContainmentMode::kProcessTree) {
    auto cgroups = SessionCgroups::open();
    if (cgroups) {
      cgroups_ = std::move(cgroups.value());
      description_ = "a cgroup per session under " + cgroups_->directory();
      for (SessionCgroup& leftover : cgroups_->end_leftovers()) {
        ++leftovers_ended_;
        retire(std::move(leftover));
      }
      return;
    }
    if (mode == ContainmentMode::kCgroup) {
      cgroup_error_ = cgroups.error().wrap("shell.containment = cgroup, but no cgroup can be used");
      description_ = cgroup_error_->message();
      return;
    }
    description_ = "process tree (no cgroup: " + cgroups.error().message() + ")";
  } else {
    description_ = "process tree (shell.containment = process-tree)";
  }
  // Orphans of a session come to the daemon rather than to init, so that they can
  // be found and killed; the ChildReaper reaps them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

Containment::~Containment() {
  retire_timer_.cancel();
  const auto deadline = std::chrono::steady_clock::now() + kExitWait;
  while (true) {
    remove_retired();
    const bool reaped = reaper_.sweep() == 0;
    if ((retired_.empty() && reaped) || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<std::unique_ptr<SessionContainment>> Containment::prepare() {
  if (cgroup_error_) {
    return *cgroup_error_;
  }
  std::optional<SessionCgroup> cgroup;
  if (cgroups_) {
    auto created = cgroups_->create();
    if (!created) {
      return created.error();
    }
    cgroup = std::move(created.value());
  }
  return std::unique_ptr<SessionContainment>(new SessionContainment(*this, std::move(cgroup)));
}

void Containment::retire(SessionCgroup cgroup) {
  if (cgroup.remove()) {
    return;
  }
  retired_.push_back(std::move(cgroup));
  if (!retire_timer_.pending()) {
    retire_attempts_ = 0;
    retire_timer_.start(kRetireInterval, [this] { remove_retired(); });
  }
}

void Containment::remove_retired() {
  std::erase_if(retired_, [](SessionCgroup& cgroup) { return cgroup.remove(); });
  if (retired_.empty()) {
    return;
  }
  if (++retire_attempts_ >= kRetireAttempts) {
    // Processes stuck in the kernel: the cgroups stay, and the next daemon that
    // takes this sessions directory kills and removes them.
    retired_.clear();
    return;
  }
  if (!retire_timer_.pending()) {
    retire_timer_.start(kRetireInterval, [this] { remove_retired(); });
  }
}

// ---- SessionContainment -------------------------------------------------------------

SessionContainment::SessionContainment(Containment& owner, std::optional<SessionCgroup> cgroup)
    : owner_(owner),
      cgroup_(std::move(cgroup)),
      alive_(std::make_shared<bool>(true)),
      empty_timer_(owner.loop_) {}

SessionContainment::~SessionContainment() {
  *alive_ = false;
  if (cgroup_) {
    (void)cgroup_->kill();
    owner_.retire(std::move(*cgroup_));
  }
}

PtyProcess::Containment SessionContainment::spawn_settings() const {
  PtyProcess::Containment settings;
  if (cgroup_) {
    settings.cgroup_procs_fd = cgroup_->procs_fd();
  } else {
    settings.child_subreaper = true;
  }
  return settings;
}

void SessionContainment::hang_up() {
  if (cgroup_) {
    cgroup_->signal_members(SIGHUP, kHangUpLimit);
    return;
  }
  walk(SIGHUP, 1, nullptr);
}

void SessionContainment::kill_all(std::function<void()> done) {
  if (cgroup_) {
    (void)cgroup_->kill();  // fails only when the cgroup is gone: nothing to kill
    when_empty(kEmptyPolls, std::move(done));
    return;
  }
  walk(SIGKILL, kKillWalks, std::move(done));
}

void SessionContainment::kill_all_now() {
  if (cgroup_) {
    (void)cgroup_->kill();
    return;
  }
  for (int round = 0; round < kKillWalks; ++round) {
    std::vector<SessionMember> members = collect_session_members(shell_, ::getpid());
    if (apply(members, SIGKILL) == 0) {
      break;
    }
  }
}

void SessionContainment::when_empty(int polls_left, std::function<void()> done) {
  if (!cgroup_->populated() || polls_left <= 0) {
    if (done) {
      done();
    }
    return;
  }
  empty_timer_.start(kEmptyPoll, [this, polls_left, done = std::move(done)]() mutable {
    when_empty(polls_left - 1, std::move(done));
  });
}

void SessionContainment::walk(int signal, int rounds_left, std::function<void()> done) {
  auto members = std::make_shared<std::vector<SessionMember>>();
  std::weak_ptr<bool> alive = alive_;
  owner_.loop_.run_blocking(
      [members, shell = shell_, daemon = ::getpid()] {
        *members = collect_session_members(shell, daemon);
      },
      [this, alive, members, signal, rounds_left, done = std::move(done)]() mutable {
        auto still = alive.lock();
        if (!still || !*still) {
          return;
        }
        const std::size_t signalled = apply(*members, signal);
        if (signal == SIGKILL && signalled > 0 && rounds_left > 1) {
          walk(signal, rounds_left - 1, std::move(done));
          return;
        }
        if (done) {
          done();
        }
      });
}

std::size_t SessionContainment::apply(std::vector<SessionMember>& members, int signal) {
  // A child of the daemon found by the walk may have become a shell of a new
  // session since (its pidfd names the process that was scanned, so only the pid
  // of a shell spawned meanwhile could match): never touch those.
  std::erase_if(members, [this](const SessionMember& member) {
    return member.ref.adopted_under != 0 && owner_.is_shell_(member.ref.adopted_under);
  });
  const std::size_t signalled = signal_members(members, signal);
  for (SessionMember& member : members) {
    // Every member may become the daemon's zombie once its parent is gone; the
    // shell itself is reaped by its PtyProcess, which reads its exit status.
    if (member.ref.pid != shell_) {
      owner_.reaper_.watch(member.ref.pid, std::move(member.pidfd));
    }
  }
  return signalled;
}

}  // namespace tether::plugins::shell
