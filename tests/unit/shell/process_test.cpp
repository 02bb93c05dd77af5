// The loop-independent parts of the shell plugin: PTY spawning, the user it runs
// as, the session's processes, terminal size validation and the session table.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "plugins/shell/pty_process.hpp"
#include "plugins/shell/session_cgroup.hpp"
#include "plugins/shell/session_processes.hpp"
#include "plugins/shell/session_table.hpp"
#include "plugins/shell/terminal_size.hpp"
#include "plugins/shell/user_account.hpp"
#include "tests/unit/shell/orphan_reaper.hpp"
#include "tests/unit/shell/process_probe.hpp"
#include "tests/unit/shell/pty_test_util.hpp"
#include "tests/unit/shell/throwaway_user.hpp"

namespace tether::plugins::shell {
namespace {

using test::converse;
using test::ThrowawayUser;

UserAccount self() {
  auto account = lookup_user("");
  EXPECT_TRUE(account.ok());
  return account.ok() ? account.value() : UserAccount{};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---- terminal size ------------------------------------------------------------------

TEST(TerminalSize, DefaultsWhenAbsentOrNil) {
  auto size = terminal_size_from_props({}, TerminalSize{});
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->columns, 80);
  EXPECT_EQ(size->rows, 40);
  auto nil = terminal_size_from_props({{"terminal_width", nullptr}}, TerminalSize{});
  ASSERT_TRUE(nil.ok());
  EXPECT_EQ(nil->columns, 80);
}

TEST(TerminalSize, ReadsBothAndKeepsTheMissingOne) {
  auto size = terminal_size_from_props({{"terminal_width", 132}, {"terminal_height", 50}}, {});
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, (TerminalSize{132, 50}));
  auto half = terminal_size_from_props({{"terminal_height", 10}}, TerminalSize{100, 30});
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(*half, (TerminalSize{100, 10}));
  auto whole_float = terminal_size_from_props({{"terminal_width", 90.0}}, {});
  ASSERT_TRUE(whole_float.ok());
  EXPECT_EQ(whole_float->columns, 90);
}

TEST(TerminalSize, RefusesGarbage) {
  const protocol::Value garbage[] = {-1,
                                     0,
                                     kMaxTerminalDimension + 1,
                                     std::int64_t{1} << 40,
                                     std::uint64_t{UINT64_MAX},
                                     "wide",
                                     80.5,
                                     -3.0,
                                     1e300,
                                     true,
                                     protocol::Bytes{1, 2},
                                     protocol::Array{80}};
  for (const auto& value : garbage) {
    auto size = terminal_size_from_props({{"terminal_width", value}}, {});
    EXPECT_FALSE(size.ok());
    if (!size.ok()) {
      EXPECT_TRUE(contains(size.error().message(), "terminal_width"));
    }
    EXPECT_FALSE(terminal_size_from_props({{"terminal_height", value}}, {}).ok());
  }
}

// ---- session table ------------------------------------------------------------------

struct Dummy {};

TEST(SessionTable, EnforcesTotalAndPerUserLimits) {
  SessionTable<Dummy> table(3, 2);
  EXPECT_FALSE(table.refusal("a", "u1"));
  table.insert("a", "u1", std::make_unique<Dummy>());
  table.insert("b", "u1", std::make_unique<Dummy>());
  auto per_user = table.refusal("c", "u1");
  ASSERT_TRUE(per_user);
  EXPECT_TRUE(contains(*per_user, "user u1"));
  EXPECT_FALSE(table.refusal("c", "u2"));
  table.insert("c", "u2", std::make_unique<Dummy>());
  auto total = table.refusal("d", "u3");
  ASSERT_TRUE(total);
  EXPECT_TRUE(contains(*total, "too many sessions"));
  EXPECT_EQ(table.count_for_user("u1"), 2U);
}

TEST(SessionTable, RefusesADuplicateSid) {
  SessionTable<Dummy> table(10, 10);
  table.insert("a", "u1", std::make_unique<Dummy>());
  auto duplicate = table.refusal("a", "u2");
  ASSERT_TRUE(duplicate);
  EXPECT_TRUE(contains(*duplicate, "already exists"));
}

TEST(SessionTable, EraseReleasesTheCountsExactly) {
  SessionTable<Dummy> table(2, 1);
  table.insert("a", "u1", std::make_unique<Dummy>());
  table.insert("b", "", std::make_unique<Dummy>());
  EXPECT_TRUE(table.refusal("c", "u1"));
  EXPECT_NE(table.erase("a"), nullptr);
  EXPECT_EQ(table.erase("a"), nullptr);  // twice: no double decrement
  EXPECT_EQ(table.count_for_user("u1"), 0U);
  EXPECT_FALSE(table.refusal("c", "u1"));
  EXPECT_EQ(table.sids_of_user(""), std::vector<std::string>{"b"});
  EXPECT_EQ(table.size(), 1U);
}

// ---- user lookup --------------------------------------------------------------------

TEST(UserAccount, EmptyNameIsTheDaemonsOwnUser) {
  UserAccount account = self();
  EXPECT_EQ(account.uid, ::geteuid());
  EXPECT_FALSE(account.name.empty());
  EXPECT_FALSE(account.groups.empty());
}

TEST(UserAccount, UnknownUserIsAnError) {
  auto account = lookup_user("no-such-user-tether-test");
  ASSERT_FALSE(account.ok());
  EXPECT_TRUE(contains(account.error().message(), "no-such-user-tether-test"));
}

// ---- PTY process --------------------------------------------------------------------

TEST(PtyProcess, RunsOnAFreshTerminalOfTheRequestedSize) {
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{123, 45}, {});
  ASSERT_TRUE(process.ok()) << process.error().message();
  std::string output =
      converse(*process, "echo \"tty=$(tty)\"; echo \"size=$(stty size)\"; exit 3\n");
  EXPECT_TRUE(contains(output, "tty=/dev/pts/")) << output;
  EXPECT_TRUE(contains(output, "size=45 123")) << output;
  // Its own session: the session id (field 6 of /proc/PID/stat) is its pid.
  std::ifstream stat("/proc/" + std::to_string(process->pid()) + "/stat");
  std::string stat_line;
  std::getline(stat, stat_line);
  std::istringstream fields(stat_line.substr(stat_line.rfind(')') + 2));
  std::string state, ppid, pgrp, session;
  fields >> state >> ppid >> pgrp >> session;
  EXPECT_EQ(session, std::to_string(process->pid())) << stat_line;
  ASSERT_TRUE(process->reap(std::chrono::seconds(5)));
  auto status = process->exit_status();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 3);
  EXPECT_FALSE(status->signaled);
}

// No namespace: the shell's $$ is the pid that the rest of the device sees.
TEST(PtyProcess, DollarDollarIsThePidTheDeviceSees) {
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{}, {});
  ASSERT_TRUE(process.ok()) << process.error().message();
  std::string output = converse(
      *process, "echo \"pid=$$ ppid=$PPID stat=$(cut -d' ' -f4 /proc/self/stat)\"; exit\n");
  // /proc/self/stat of the `cut` child names the shell as its parent (field 4).
  const std::string shell = std::to_string(process->pid());
  EXPECT_TRUE(
      contains(output, "pid=" + shell + " ppid=" + std::to_string(::getpid()) + " stat=" + shell))
      << output;
  ASSERT_TRUE(process->reap(std::chrono::seconds(5)));
}

TEST(PtyProcess, ResizeIsSeenByTheShell) {
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{}, {});
  ASSERT_TRUE(process.ok()) << process.error().message();
  ASSERT_TRUE(process->resize(TerminalSize{200, 60}).ok());
  std::string output = converse(*process, "echo \"size=$(stty size)\"; exit\n");
  EXPECT_TRUE(contains(output, "size=60 200")) << output;
  EXPECT_TRUE(process->reap(std::chrono::seconds(5)));
}

TEST(PtyProcess, StartsWithACleanEnvironment) {
  ::setenv("TETHER_TEST_SECRET", "leaked", 1);
  UserAccount account = self();
  auto process = PtyProcess::spawn("/bin/sh", account, TerminalSize{}, {});
  ASSERT_TRUE(process.ok()) << process.error().message();
  std::string output = converse(*process, "env | sort | sed 's/^/ENV:/'; exit\n");
  ::unsetenv("TETHER_TEST_SECRET");
  EXPECT_FALSE(contains(output, "TETHER_TEST_SECRET")) << output;
  EXPECT_TRUE(contains(output, "ENV:TERM=xterm-256color")) << output;
  EXPECT_TRUE(contains(output, "ENV:HOME=" + account.home)) << output;
  EXPECT_TRUE(contains(output, "ENV:USER=" + account.name)) << output;
  EXPECT_TRUE(contains(output, "ENV:LOGNAME=" + account.name)) << output;
  EXPECT_TRUE(contains(output, "ENV:SHELL=/bin/sh")) << output;
  EXPECT_TRUE(contains(output, "ENV:PATH=/")) << output;
  EXPECT_TRUE(process->reap(std::chrono::seconds(5)));
}

TEST(PtyProcess, BecomesTheConfiguredUser) {
  ThrowawayUser user;
  if (!user.available()) {
    GTEST_SKIP() << "needs root to create a throwaway user (running as uid " << ::geteuid() << ")";
  }
  auto account = lookup_user(user.name());
  ASSERT_TRUE(account.ok()) << account.error().message();
  auto process = PtyProcess::spawn("/bin/sh", *account, TerminalSize{}, {});
  ASSERT_TRUE(process.ok()) << process.error().message();
  std::string output =
      converse(*process,
               "echo \"who=$(id -un) uid=$(id -u) gid=$(id -g) groups=$(id -G)\"; "
               "echo \"cwd=$(pwd) home=$HOME\"; ls -ln $(tty) | awk '{print \"ttyowner=\" $3}'; "
               "exit\n");
  EXPECT_TRUE(contains(output, "who=" + user.name())) << output;
  EXPECT_TRUE(contains(output, "uid=" + std::to_string(account->uid))) << output;
  EXPECT_TRUE(contains(output, "gid=" + std::to_string(account->gid))) << output;
  EXPECT_FALSE(contains(output, "groups=0")) << output;  // root's groups dropped
  EXPECT_TRUE(contains(output, "cwd=" + user.home() + " home=")) << output;
  EXPECT_TRUE(contains(output, "home=" + user.home())) << output;
  EXPECT_TRUE(contains(output, "ttyowner=" + std::to_string(account->uid))) << output;
  EXPECT_TRUE(process->reap(std::chrono::seconds(5)));
}

TEST(PtyProcess, RefusesARelativeCommand) {
  auto process = PtyProcess::spawn("sh", self(), TerminalSize{}, {});
  ASSERT_FALSE(process.ok());
  EXPECT_TRUE(contains(process.error().message(), "absolute"));
}

TEST(PtyProcess, ReportsAFailedExec) {
  auto process = PtyProcess::spawn("/nonexistent/shell", self(), TerminalSize{}, {});
  ASSERT_FALSE(process.ok());
  EXPECT_TRUE(contains(process.error().message(), "execve")) << process.error().message();
}

TEST(PtyProcess, ExitBySignalIsReportedLikeAShellWould) {
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{}, {});
  ASSERT_TRUE(process.ok()) << process.error().message();
  ::kill(process->pid(), SIGKILL);
  ASSERT_TRUE(process->reap(std::chrono::seconds(5)));
  auto status = process->exit_status();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->signaled);
  EXPECT_EQ(status->code, 128 + SIGKILL);
}

// ---- session processes (the process-tree fallback) ---------------------------------

TEST(SessionProcesses, ParsesProcStatEvenWithParenthesesInTheName) {
  ProcessEntry entry;
  ASSERT_TRUE(parse_proc_stat(
      "4242 (a) (b c)) S 17 4242 4240 34816 4242 4194304 1 2 3 4 5 6 7 8 20 0 1 0 987654 1 2",
      entry));
  EXPECT_EQ(entry.pid, 4242);
  EXPECT_EQ(entry.state, 'S');
  EXPECT_EQ(entry.parent, 17);
  EXPECT_EQ(entry.session, 4240);
  EXPECT_EQ(entry.start_time, 987654U);
}

TEST(SessionProcesses, RejectsGarbageAndTruncatedStat) {
  ProcessEntry entry;
  EXPECT_FALSE(parse_proc_stat("", entry));
  EXPECT_FALSE(parse_proc_stat("garbage", entry));
  EXPECT_FALSE(parse_proc_stat("12 (sh", entry));
  EXPECT_FALSE(parse_proc_stat("12 (sh) S 1 12", entry));  // cut before the session
  EXPECT_FALSE(parse_proc_stat("12 (sh) S 1 12 12 0 -1 0 1 2 3 4 5 6 7 8", entry));
  EXPECT_FALSE(parse_proc_stat("-5 (sh) S 1 12 12 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 9", entry));
  EXPECT_FALSE(parse_proc_stat("12 (sh) S x 12 12 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 9", entry));
}

TEST(SessionProcesses, MembershipFollowsTheTreeTheSessionAndAdoptedOrphans) {
  const pid_t daemon = 100;
  const pid_t shell = 200;
  const pid_t other_shell = 300;
  std::vector<ProcessEntry> table = {
      {1, 'S', 0, 1, 1},
      {daemon, 'S', 1, daemon, 1},
      {shell, 'S', daemon, shell, 1},
      {201, 'S', shell, shell, 1},  // a job
      {202, 'S', 201, 202, 1},      // setsid below the job
      {203, 'Z', shell, shell, 1},  // a zombie child of the shell
      {210, 'S', 1, shell, 1},      // a job whose parent died, adopted by init
      {211, 'S', 210, shell, 1},    // ...and its child
      {other_shell, 'S', daemon, other_shell, 1},
      {301, 'S', other_shell, other_shell, 1},
      {400, 'S', daemon, 400, 1},  // an orphan adopted by the daemon
      {401, 'S', 400, 400, 1},
      {500, 'S', 1, 500, 1},  // a stranger
  };
  std::map<pid_t, MemberRef> members;
  for (const MemberRef& member : session_membership(table, shell, daemon)) {
    EXPECT_TRUE(members.emplace(member.pid, member).second) << "twice: " << member.pid;
  }
  for (pid_t pid : {shell, 201, 202, 210, 211}) {
    ASSERT_EQ(members.count(pid), 1U) << pid;
    EXPECT_EQ(members[pid].adopted_under, 0) << pid;
  }
  ASSERT_EQ(members.count(203), 1U);
  EXPECT_TRUE(members[203].zombie);
  EXPECT_FALSE(members[201].zombie);
  // Another session's shell is found as "under the daemon": the caller drops it
  // because it knows it is a shell.
  ASSERT_EQ(members.count(other_shell), 1U);
  EXPECT_EQ(members[other_shell].adopted_under, other_shell);
  ASSERT_EQ(members.count(401), 1U);
  EXPECT_EQ(members[401].adopted_under, 400);
  for (pid_t pid : {1, daemon, 500}) {
    EXPECT_EQ(members.count(pid), 0U) << pid;
  }
  EXPECT_TRUE(session_membership(table, 1, daemon).empty());
  EXPECT_TRUE(session_membership(table, 0, daemon).empty());
}

// The shell is a child subreaper: a double-forked daemon of the session stays below
// it, and the walk finds it together with a `setsid nohup` job.
TEST(SessionProcesses, FindsAndKillsSetsidJobsAndDoubleForkedDaemons) {
  test::become_subreaper();
  const std::string dir = ::testing::TempDir();
  const std::string nohup_file = dir + "/nohup.pid." + std::to_string(::getpid());
  const std::string daemon_file = dir + "/daemon.pid." + std::to_string(::getpid());
  ::unlink(nohup_file.c_str());
  ::unlink(daemon_file.c_str());
  PtyProcess::Containment containment;
  containment.child_subreaper = true;
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{}, containment);
  ASSERT_TRUE(process.ok()) << process.error().message();
  const pid_t shell = process->pid();
  const std::string command =
      "set -m; sh -c 'trap \"\" HUP; sleep 1000' & setsid nohup sh -c 'echo $$ > " + nohup_file +
      "; exec sleep 1001' >/dev/null 2>&1 & sh -c '(setsid sh -c \"echo \\$\\$ > " + daemon_file +
      "; exec sleep 1002\" &) &'; echo started\n";
  ASSERT_EQ(::write(process->master(), command.data(), command.size()),
            static_cast<ssize_t>(command.size()));
  const pid_t nohup_job = test::read_pid_file(nohup_file, std::chrono::seconds(5));
  const pid_t double_forked = test::read_pid_file(daemon_file, std::chrono::seconds(5));
  ASSERT_GT(nohup_job, 1);
  ASSERT_GT(double_forked, 1);
  // Orphaned by its parents, re-parented to the shell rather than to init.
  for (int i = 0; i < 100 && test::parent_of(double_forked) != shell; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(test::parent_of(double_forked), shell);
  std::vector<pid_t> found;
  for (const SessionMember& member : collect_session_members(shell, ::getpid())) {
    found.push_back(member.ref.pid);
  }
  for (pid_t pid : {shell, nohup_job, double_forked}) {
    EXPECT_NE(std::find(found.begin(), found.end(), pid), found.end()) << pid;
  }
  for (int round = 0; round < 50; ++round) {
    if (signal_members(collect_session_members(shell, ::getpid()), SIGKILL) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(test::all_gone({shell, nohup_job, double_forked}, std::chrono::seconds(3)));
  EXPECT_TRUE(process->reap(std::chrono::seconds(5)));
  EXPECT_FALSE(test::is_our_zombie(shell));
  test::reap_orphans();
}

// When the shell has exited, its orphans are the daemon's children: found as adopted.
TEST(SessionProcesses, FindsOrphansTheDaemonAdoptedAfterTheShellExited) {
  test::become_subreaper();
  const std::string file = ::testing::TempDir() + "/orphan.pid." + std::to_string(::getpid());
  ::unlink(file.c_str());
  PtyProcess::Containment containment;
  containment.child_subreaper = true;
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{}, containment);
  ASSERT_TRUE(process.ok()) << process.error().message();
  const pid_t shell = process->pid();
  const std::string command =
      "setsid sh -c 'echo $$ > " + file + "; exec sleep 1003' </dev/null >/dev/null 2>&1 &\n";
  ASSERT_EQ(::write(process->master(), command.data(), command.size()),
            static_cast<ssize_t>(command.size()));
  const pid_t orphan = test::read_pid_file(file, std::chrono::seconds(5));
  ASSERT_GT(orphan, 1);
  ASSERT_EQ(::write(process->master(), "exit\n", 5), 5);
  for (int i = 0; i < 200 && test::parent_of(orphan) != ::getpid(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(test::parent_of(orphan), ::getpid());
  auto members = collect_session_members(shell, ::getpid());
  bool found = false;
  for (const SessionMember& member : members) {
    found = found || (member.ref.pid == orphan && member.ref.adopted_under != 0);
  }
  EXPECT_TRUE(found);
  EXPECT_GE(signal_members(members, SIGKILL), 1U);
  EXPECT_TRUE(test::all_gone({orphan}, std::chrono::seconds(3)));
  EXPECT_TRUE(process->reap(std::chrono::seconds(5)));
  test::reap_orphans();
}

// ---- session cgroups ----------------------------------------------------------------

TEST(SessionCgroup, FindsTheCgroup2MountInMountinfo) {
  const std::string hybrid =
      "25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw\n"
      "33 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
  auto mount = find_cgroup2_mount(hybrid);
  ASSERT_TRUE(mount);
  EXPECT_EQ(mount->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(mount->root, "/");
  auto escaped = find_cgroup2_mount("1 2 0:1 /sub /my\\040cgroups rw - cgroup2 none rw\n");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(escaped->mount_point, "/my cgroups");
  EXPECT_EQ(escaped->root, "/sub");
  EXPECT_FALSE(find_cgroup2_mount(""));
  EXPECT_FALSE(find_cgroup2_mount("33 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n"));
  EXPECT_FALSE(find_cgroup2_mount("garbage - cgroup2\n"));
  EXPECT_FALSE(find_cgroup2_mount("1 2 0:1 / relative rw - cgroup2 none rw\n"));
  EXPECT_FALSE(find_cgroup2_mount(std::string(" - ") + "cgroup2"));
}

TEST(SessionCgroup, ReadsTheOwnCgroupAndMapsItUnderTheMount) {
  EXPECT_EQ(own_cgroup2_path("12:pids:/x\n0::/system.slice/tetherd.service\n"),
            "/system.slice/tetherd.service");
  EXPECT_EQ(own_cgroup2_path("0::/\n"), "/");
  EXPECT_FALSE(own_cgroup2_path("4:memory:/a\n1:name=systemd:/\n"));  // pure v1
  EXPECT_FALSE(own_cgroup2_path("0::/gone (deleted)\n"));
  EXPECT_FALSE(own_cgroup2_path("0::relative\n"));
  EXPECT_FALSE(own_cgroup2_path("0::/a/../b\n"));
  EXPECT_FALSE(own_cgroup2_path(""));
  const Cgroup2Mount unified{"/sys/fs/cgroup/unified", "/"};
  EXPECT_EQ(cgroup_directory(unified, "/"), "/sys/fs/cgroup/unified");
  EXPECT_EQ(cgroup_directory(unified, "/system.slice/t.service"),
            "/sys/fs/cgroup/unified/system.slice/t.service");
  const Cgroup2Mount bound{"/mnt/cg/", "/system.slice"};
  EXPECT_EQ(cgroup_directory(bound, "/system.slice/t.service"), "/mnt/cg/t.service");
  EXPECT_FALSE(cgroup_directory(bound, "/user.slice"));
  EXPECT_FALSE(cgroup_directory(bound, "/system.slicer"));
}

// Where the test may make cgroups (root, cgroup v2 with cgroup.kill): a session's
// cgroup holds everything the shell starts, and cgroup.kill ends all of it.
TEST(SessionCgroup, HoldsEveryProcessOfTheShellAndKillsThemAtOnce) {
  auto cgroups = SessionCgroups::open();
  if (!cgroups) GTEST_SKIP() << "no usable cgroup here: " << cgroups.error().message();
  auto cgroup = cgroups->create();
  ASSERT_TRUE(cgroup.ok()) << cgroup.error().message();
  const std::string file = ::testing::TempDir() + "/cg.pid." + std::to_string(::getpid());
  ::unlink(file.c_str());
  PtyProcess::Containment containment;
  containment.cgroup_procs_fd = cgroup->procs_fd();
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{}, containment);
  ASSERT_TRUE(process.ok()) << process.error().message();
  const std::string command = "sleep 1000 & sh -c '(setsid sh -c \"echo \\$\\$ > " + file +
                              "; exec sleep 1002\" &) &'; echo started\n";
  ASSERT_EQ(::write(process->master(), command.data(), command.size()),
            static_cast<ssize_t>(command.size()));
  const pid_t daemonized = test::read_pid_file(file, std::chrono::seconds(5));
  ASSERT_GT(daemonized, 1);
  std::vector<pid_t> members = cgroup->members(100);
  EXPECT_NE(std::find(members.begin(), members.end(), process->pid()), members.end());
  EXPECT_NE(std::find(members.begin(), members.end(), daemonized), members.end());
  EXPECT_TRUE(cgroup->populated());
  ASSERT_TRUE(cgroup->kill().ok());
  EXPECT_TRUE(test::all_gone(members, std::chrono::seconds(3)));
  EXPECT_TRUE(process->reap(std::chrono::seconds(5)));
  for (int i = 0; i < 100 && !cgroup->remove(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(cgroup->removed());
  test::reap_orphans();
}

// A daemon killed with -9 leaves its session cgroups; the next one ends them.
TEST(SessionCgroup, TheNextDaemonEndsLeftoverSessions) {
  std::string directory;
  pid_t shell = -1;
  std::optional<PtyProcess> kept;
  {
    auto cgroups = SessionCgroups::open();
    if (!cgroups) GTEST_SKIP() << "no usable cgroup here: " << cgroups.error().message();
    directory = cgroups->directory();
    auto cgroup = cgroups->create();
    ASSERT_TRUE(cgroup.ok()) << cgroup.error().message();
    PtyProcess::Containment containment;
    containment.cgroup_procs_fd = cgroup->procs_fd();
    auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{}, containment);
    ASSERT_TRUE(process.ok()) << process.error().message();
    shell = process->pid();
    kept.emplace(std::move(process.value()));
  }  // the sessions directory is released, its session cgroup left behind
  ASSERT_TRUE(test::alive(shell));
  auto next = SessionCgroups::open();
  ASSERT_TRUE(next.ok()) << next.error().message();
  ASSERT_EQ(next->directory(), directory);
  std::vector<SessionCgroup> leftovers = next->end_leftovers();
  EXPECT_GE(leftovers.size(), 1U);
  EXPECT_TRUE(kept->reap(std::chrono::seconds(5)));
  EXPECT_FALSE(test::alive(shell));
  for (SessionCgroup& leftover : leftovers) {
    for (int i = 0; i < 100 && !leftover.remove(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(leftover.removed()) << leftover.directory();
  }
}

// Two daemons in one cgroup never share a sessions directory.
TEST(SessionCgroup, ASecondDaemonTakesAnotherSessionsDirectory) {
  auto first = SessionCgroups::open();
  if (!first) GTEST_SKIP() << "no usable cgroup here: " << first.error().message();
  auto second = SessionCgroups::open();
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_NE(first->directory(), second->directory());
}

}  // namespace
}  // namespace tether::plugins::shell
