// shell-containment: what containing a remote-shell session costs, per way
// (docs/shell.md, "Containment"). For each way, N sessions are started and ended:
//
//   setup  = making the session's container (a cgroup: mkdir + open of cgroup.procs;
//            the process tree: nothing) + spawning the shell into it
//   stop   = ending every process of a session of 5 (the shell, two jobs, a setsid
//            job, a double-forked daemon) until none is alive
//
// Floor, measured in the same run: a spawn with no containment, and a stop that only
// SIGKILLs the shell (which leaves the other four alive: what no containment costs).
// Prints medians and 90th percentiles in microseconds and the ratios to the floor.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plugins/shell/pty_process.hpp"
#include "plugins/shell/session_cgroup.hpp"
#include "plugins/shell/session_processes.hpp"
#include "plugins/shell/user_account.hpp"

namespace shell = tether::plugins::shell;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  double median_us = 0;
  double p90_us = 0;
};

Stats stats(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  if (samples.empty()) return {};
  return {samples[samples.size() / 2], samples[samples.size() * 9 / 10]};
}

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// Reaps every exited child, the adopted orphans included (this program is a child
// subreaper, as tetherd is in the process-tree way).
void reap_all() {
  siginfo_t info{};
  while (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0) {
    info = siginfo_t{};
  }
}

std::size_t process_count() {
  return shell::read_process_table().size();
}

// A "shell" that starts the five-process session at once: two jobs, a setsid job and
// a double-forked daemon, then waits in the foreground.
std::string write_session_script(const std::string& dir) {
  const std::string path = dir + "/session.sh";
  std::ofstream out(path);
  out << "#!/bin/sh\n"
         "sleep 1000 &\n"
         "sleep 1001 &\n"
         "setsid sleep 1002 &\n"
         "sh -c '(setsid sleep 1003 &) &'\n"
         "exec sleep 1004\n";
  out.close();
  ::chmod(path.c_str(), 0755);
  return path;
}

// Waits until the session has its five processes running (so that stop has work).
void wait_started(pid_t shell_pid, const std::function<std::size_t()>& count) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (count() < 5 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  (void)shell_pid;
}

struct Way {
  std::string name;
  std::vector<double> setup;
  std::vector<double> stop;
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 30;
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto user = shell::lookup_user("");
  if (!user) {
    std::fprintf(stderr, "user: %s\n", user.error().message().c_str());
    return 1;
  }
  char dir_template[] = "/tmp/shell-containment-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) return 1;
  const std::string script = write_session_script(dir);
  const std::size_t processes = process_count();

  auto cgroups = shell::SessionCgroups::open();
  Way floor{"floor (no containment)", {}, {}};
  Way cgroup{"cgroup", {}, {}};
  Way tree{"process tree", {}, {}};

  for (int round = 0; round < rounds; ++round) {
    // Floor: spawn only; stop = SIGKILL of the shell alone.
    {
      const auto t0 = Clock::now();
      auto process = shell::PtyProcess::spawn(script, *user, {}, {});
      floor.setup.push_back(micros(Clock::now() - t0));
      if (!process) return 1;
      const pid_t pid = process->pid();
      wait_started(pid, [pid] {
        return shell::session_membership(shell::read_process_table(), pid, 0).size();
      });
      const auto t1 = Clock::now();
      ::kill(pid, SIGKILL);
      process->reap(std::chrono::milliseconds(1000));
      floor.stop.push_back(micros(Clock::now() - t1));
      // Clean up what the floor leaves alive (not timed).
      for (const auto& member : shell::collect_session_members(pid, ::getpid())) {
        ::kill(member.ref.pid, SIGKILL);
      }
      reap_all();
    }
    // cgroup: mkdir + spawn into it; stop = cgroup.kill until empty.
    if (cgroups) {
      const auto t0 = Clock::now();
      auto made = cgroups->create();
      if (!made) return 1;
      shell::PtyProcess::Containment containment;
      containment.cgroup_procs_fd = made->procs_fd();
      auto process = shell::PtyProcess::spawn(script, *user, {}, containment);
      cgroup.setup.push_back(micros(Clock::now() - t0));
      if (!process) return 1;
      wait_started(process->pid(), [&] { return made->members(100).size(); });
      const auto t1 = Clock::now();
      (void)made->kill();
      while (made->populated()) {
      }
      cgroup.stop.push_back(micros(Clock::now() - t1));
      process->reap(std::chrono::milliseconds(1000));
      while (!made->remove()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      reap_all();
    }
    // Process tree: subreaper shell; stop = /proc walks + SIGKILL until none alive.
    {
      const auto t0 = Clock::now();
      shell::PtyProcess::Containment containment;
      containment.child_subreaper = true;
      auto process = shell::PtyProcess::spawn(script, *user, {}, containment);
      tree.setup.push_back(micros(Clock::now() - t0));
      if (!process) return 1;
      const pid_t pid = process->pid();
      wait_started(pid, [pid] {
        return shell::session_membership(shell::read_process_table(), pid, 0).size();
      });
      const auto t1 = Clock::now();
      for (int walk = 0; walk < 8; ++walk) {
        if (shell::signal_members(shell::collect_session_members(pid, ::getpid()), SIGKILL) == 0) {
          break;
        }
      }
      tree.stop.push_back(micros(Clock::now() - t1));
      process->reap(std::chrono::milliseconds(1000));
      reap_all();
    }
  }

  std::printf(
      "shell-containment: %d rounds, %zu processes on this machine (the /proc walk reads each)\n",
      rounds, processes);
  if (!cgroups) {
    std::printf("cgroup way unavailable here: %s\n", cgroups.error().message().c_str());
  }
  const Stats floor_setup = stats(floor.setup);
  const Stats floor_stop = stats(floor.stop);
  std::printf("%-24s %12s %12s %8s %12s %12s %8s\n", "way", "setup p50", "setup p90", "x floor",
              "stop p50", "stop p90", "x floor");
  for (const Way* way : {&floor, &cgroup, &tree}) {
    if (way->setup.empty()) continue;
    const Stats setup = stats(way->setup);
    const Stats stop = stats(way->stop);
    std::printf("%-24s %10.0fus %10.0fus %8.2f %10.0fus %10.0fus %8.2f\n", way->name.c_str(),
                setup.median_us, setup.p90_us, setup.median_us / floor_setup.median_us,
                stop.median_us, stop.p90_us, stop.median_us / floor_stop.median_us);
  }
  std::printf("(floor stop kills the shell only and leaves 4 of the 5 processes alive)\n");
  if (cgroups) {
    // Where the cgroup setup goes: creating the cgroup alone, against the whole.
    std::vector<double> create;
    for (int round = 0; round < rounds; ++round) {
      const auto t0 = Clock::now();
      auto made = cgroups->create();
      create.push_back(micros(Clock::now() - t0));
      if (made) made->remove();
    }
    std::printf(
        "cgroup: mkdir + open alone p50 %.0fus; the rest of its setup is the shell "
        "moving itself into it (cgroup.procs) before execve\n",
        stats(create).median_us);
  }
  ::unlink(script.c_str());
  ::rmdir(dir);
  return 0;
}
