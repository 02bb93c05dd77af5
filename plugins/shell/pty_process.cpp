#include "plugins/shell/pty_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace tether::plugins::shell {
namespace {

Error errno_error(const std::string& what, int error = errno) {
  return Error(what + ": " + std::strerror(error));
}

// What the child needs, prepared by the parent. The child runs on the parent's
// memory (CLONE_VM) while the parent waits (CLONE_VFORK), so it writes a failure
// back here instead of through a pipe.
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* home = nullptr;
  int slave_fd = -1;
  bool change_identity = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  std::size_t group_count = 0;
  pid_t parent_pid = 0;
  // cgroup.procs of the session's cgroup, or -1 (see PtyProcess::Containment).
  int cgroup_procs_fd = -1;
  bool child_subreaper = false;
  const char* failed_step = nullptr;
  int error = 0;
};

// Reserved for the child between clone and execve: only raw system calls and
// async-signal-safe functions, no allocation, no locks.
[[noreturn]] void child_fail(ChildPlan* plan, const char* step) {
  plan->failed_step = step;
  plan->error = errno;
  ::_exit(127);
}

int child_main(void* arg) {
  auto* plan = static_cast<ChildPlan*>(arg);
  // Handlers installed by the daemon must not run in the child (they would run on
  // the parent's memory), and the shell expects default dispositions.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    ::sigaction(sig, &default_action, nullptr);
  }
  if (::setsid() < 0) {
    child_fail(plan, "setsid");
  }
  if (::ioctl(plan->slave_fd, TIOCSCTTY, 0) < 0) {
    child_fail(plan, "TIOCSCTTY");
  }
  // Before the identity change: moving a process between cgroups needs write
  // access to the cgroup.procs files, which the daemon's user has and the shell's
  // user may not. Writing "0" moves the writer itself.
  if (plan->cgroup_procs_fd >= 0 && ::write(plan->cgroup_procs_fd, "0", 1) != 1) {
    child_fail(plan, "joining the session cgroup");
  }
  if (plan->child_subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
    child_fail(plan, "PR_SET_CHILD_SUBREAPER");
  }
  if (plan->change_identity) {
    if (::syscall(SYS_setgroups, plan->group_count, plan->groups) < 0) {
      child_fail(plan, "setgroups");
    }
    if (::syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0) {
      child_fail(plan, "setresgid");
    }
    if (::syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0) {
      child_fail(plan, "setresuid");
    }
  }
  for (int fd = 0; fd < 3; ++fd) {
    if (::dup2(plan->slave_fd, fd) < 0) {
      child_fail(plan, "dup2");
    }
  }
  // Everything of the daemon's is close-on-exec already; this also catches a
  // descriptor some library opened without O_CLOEXEC. Failure is harmless.
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  if (::chdir(plan->home) < 0 && ::chdir("/") < 0) {
    child_fail(plan, "chdir");
  }
  // After the uid change: changing credentials clears the parent-death signal.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
    child_fail(plan, "PR_SET_PDEATHSIG");
  }
  if (::getppid() != plan->parent_pid) {
    ::_exit(127);  // the daemon died before the signal was armed
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(plan->path, plan->argv, plan->envp);
  child_fail(plan, "execve");
}

// The kernel sends SIGWINCH to the terminal's foreground process group on a change.
Status set_window_size(int master, TerminalSize size) {
  winsize window{};
  window.ws_row = size.rows;
  window.ws_col = size.columns;
  if (::ioctl(master, TIOCSWINSZ, &window) < 0) {
    return errno_error("setting the terminal size");
  }
  return Status::Ok();
}

std::vector<char*> null_terminated(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) {
    pointers.push_back(s.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

std::string default_path(uid_t uid) {
  // login.defs' ENV_SUPATH and ENV_PATH defaults.
  return uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                  : "/usr/local/bin:/usr/bin:/bin";
}

// Opens the slave side in the parent so that its ownership and modes can be set
// with full privileges before the child drops them. Kept at fd >= 3 so that the
// child's dup2 onto 0..2 always makes real copies.
Result<UniqueFd> open_slave(int master, const UserAccount& user, bool change_identity) {
  char slave_path[128];
  if (::ptsname_r(master, slave_path, sizeof slave_path) != 0) {
    return errno_error("ptsname");
  }
  UniqueFd slave(::open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.valid()) {
    return errno_error(std::string("opening ") + slave_path);
  }
  if (slave.get() < 3) {
    UniqueFd high(::fcntl(slave.get(), F_DUPFD_CLOEXEC, 3));
    if (!high.valid()) {
      return errno_error("dup of the PTY slave");
    }
    slave = std::move(high);
  }
  // What login(1) does: the user owns their terminal (so that programs which
  // reopen it by name, or check its owner, work); the group stays devpts' tty group.
  if (change_identity && ::geteuid() == 0) {
    if (::fchown(slave.get(), user.uid, static_cast<gid_t>(-1)) < 0 ||
        ::fchmod(slave.get(), 0620) < 0) {
      return errno_error(std::string("handing ") + slave_path + " to " + user.name);
    }
  }
  // UTF-8 aware erase in the line discipline: backspace removes a whole character.
  termios modes{};
  if (::tcgetattr(slave.get(), &modes) == 0) {
    modes.c_iflag |= IUTF8;
    ::tcsetattr(slave.get(), TCSANOW, &modes);
  }
  return slave;
}

}  // namespace

Result<PtyProcess> PtyProcess::spawn(const std::string& command, const UserAccount& user,
                                     TerminalSize size, const Containment& containment) {
  if (command.empty() || command.front() != '/') {
    return Error("shell command is not an absolute path: " + command);
  }
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) {
    return errno_error("posix_openpt");
  }
  if (::grantpt(master.get()) < 0 || ::unlockpt(master.get()) < 0) {
    return errno_error("unlocking the PTY");
  }
  int flags = ::fcntl(master.get(), F_GETFL);
  if (flags < 0 || ::fcntl(master.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return errno_error("making the PTY master non-blocking");
  }
  if (Status sized = set_window_size(master.get(), size); !sized) {
    return sized.error();
  }

  const bool change_identity = ::geteuid() == 0 || ::geteuid() != user.uid;
  auto slave = open_slave(master.get(), user, change_identity);
  if (!slave) {
    return slave.error();
  }

  std::vector<std::string> args = {command};
  std::vector<std::string> environment = {"HOME=" + user.home,
                                          "USER=" + user.name,
                                          "LOGNAME=" + user.name,
                                          "SHELL=" + command,
                                          "PATH=" + default_path(user.uid),
                                          "TERM=xterm-256color"};
  std::vector<char*> argv = null_terminated(args);
  std::vector<char*> envp = null_terminated(environment);

  ChildPlan plan;
  plan.path = command.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.home = user.home.c_str();
  plan.slave_fd = slave->get();
  plan.change_identity = change_identity;
  plan.uid = user.uid;
  plan.gid = user.gid;
  plan.groups = user.groups.data();
  plan.group_count = user.groups.size();
  plan.parent_pid = ::getpid();
  plan.cgroup_procs_fd = containment.cgroup_procs_fd;
  plan.child_subreaper = containment.child_subreaper;

  // The child uses only a few hundred bytes of stack; 64 KiB leaves room for the
  // kernel's signal frames and glibc's syscall wrappers.
  constexpr std::size_t kStackWords = std::size_t{64} * 1024 / sizeof(std::uint64_t);
  auto stack = std::make_unique<std::uint64_t[]>(kStackWords);

  // Block every signal across the clone: a handler run by the child before it
  // resets the dispositions would run on the parent's memory.
  sigset_t all_signals;
  sigset_t previous;
  ::sigfillset(&all_signals);
  ::pthread_sigmask(SIG_SETMASK, &all_signals, &previous);
  int pidfd = -1;
  const pid_t pid = ::clone(child_main, stack.get() + kStackWords,
                            CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &plan, &pidfd);
  const int clone_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) {
    return errno_error("clone", clone_error);
  }
  PtyProcess process(std::move(master), UniqueFd(pidfd), pid);
  if (plan.failed_step != nullptr) {
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED);
    process.reaped_ = true;
    return errno_error(
        std::string("starting ") + command + " as " + user.name + ": " + plan.failed_step,
        plan.error);
  }
  return process;
}

Status PtyProcess::resize(TerminalSize size) {
  return set_window_size(master_.get(), size);
}

std::optional<ExitStatus> PtyProcess::exit_status() {
  if (exit_ || !pidfd_.valid()) {
    return exit_;
  }
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
    if (errno == ECHILD) {
      // Reaped behind our back (SIGCHLD set to SIG_IGN): gone, status unknown.
      reaped_ = true;
      exit_ = ExitStatus{-1, false};
    }
    return exit_;
  }
  if (info.si_pid == 0) {
    return std::nullopt;
  }
  if (info.si_code == CLD_EXITED) {
    exit_ = ExitStatus{info.si_status, false};
  } else {
    exit_ = ExitStatus{128 + info.si_status, true};
  }
  return exit_;
}

bool PtyProcess::reap(std::chrono::milliseconds timeout) {
  if (reaped_ || !pidfd_.valid()) {
    return true;
  }
  if (timeout.count() > 0) {
    pollfd exited{pidfd_.get(), POLLIN, 0};
    ::poll(&exited, 1, static_cast<int>(timeout.count()));
  }
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG) < 0) {
    reaped_ = errno == ECHILD;
    return reaped_;
  }
  if (info.si_pid == 0) {
    return false;
  }
  if (!exit_) {
    exit_ = info.si_code == CLD_EXITED ? ExitStatus{info.si_status, false}
                                       : ExitStatus{128 + info.si_status, true};
  }
  reaped_ = true;
  return true;
}

}  // namespace tether::plugins::shell
