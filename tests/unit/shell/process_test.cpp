// The loop-independent parts of the shell plugin: PTY spawning, the user it runs
// as, the session's processes, terminal size validation and the session table.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "plugins/shell/pty_process.hpp"
#include "plugins/shell/session_processes.hpp"
#include "plugins/shell/session_table.hpp"
#include "plugins/shell/terminal_size.hpp"
#include "plugins/shell/user_account.hpp"
#include "tests/unit/shell/orphan_reaper.hpp"
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
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{123, 45});
  ASSERT_TRUE(process.ok()) << process.error().message();
  std::string output =
      converse(*process, "echo \"tty=$(tty)\"; echo \"size=$(stty size)\"; exit 3\n");
  EXPECT_TRUE(contains(output, "tty=/dev/pts/")) << output;
  EXPECT_TRUE(contains(output, "size=45 123")) << output;
  // Its own session: the session id (field 6 of /proc/PID/stat) is its pid. Read
  // from the host's side, because inside its PID namespace the shell is pid 1.
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

// Background jobs sit in process groups of their own, out of reach of the terminal's
// hangup; the shell's own PID namespace is what takes them down with it.
TEST(PtyProcess, BackgroundJobsDieWithTheShell) {
  if (::geteuid() != 0) GTEST_SKIP() << "a PID namespace per shell needs root";
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{});
  ASSERT_TRUE(process.ok()) << process.error().message();
  const pid_t session = process->pid();
  std::string output = converse(*process, "sleep 1000 & sleep 1001 & echo started; exit 0\n");
  EXPECT_TRUE(contains(output, "started")) << output;
  ASSERT_TRUE(process->reap(std::chrono::seconds(5)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!live_processes_in_session(session).empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(live_processes_in_session(session).empty());
}

TEST(PtyProcess, ResizeIsSeenByTheShell) {
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{});
  ASSERT_TRUE(process.ok()) << process.error().message();
  ASSERT_TRUE(process->resize(TerminalSize{200, 60}).ok());
  std::string output = converse(*process, "echo \"size=$(stty size)\"; exit\n");
  EXPECT_TRUE(contains(output, "size=60 200")) << output;
  EXPECT_TRUE(process->reap(std::chrono::seconds(5)));
}

TEST(PtyProcess, StartsWithACleanEnvironment) {
  ::setenv("TETHER_TEST_SECRET", "leaked", 1);
  UserAccount account = self();
  auto process = PtyProcess::spawn("/bin/sh", account, TerminalSize{});
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
  auto process = PtyProcess::spawn("/bin/sh", *account, TerminalSize{});
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
  auto process = PtyProcess::spawn("sh", self(), TerminalSize{});
  ASSERT_FALSE(process.ok());
  EXPECT_TRUE(contains(process.error().message(), "absolute"));
}

TEST(PtyProcess, ReportsAFailedExec) {
  auto process = PtyProcess::spawn("/nonexistent/shell", self(), TerminalSize{});
  ASSERT_FALSE(process.ok());
  EXPECT_TRUE(contains(process.error().message(), "execve")) << process.error().message();
}

TEST(PtyProcess, ExitBySignalIsReportedLikeAShellWould) {
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{});
  ASSERT_TRUE(process.ok()) << process.error().message();
  ::kill(process->pid(), SIGKILL);
  ASSERT_TRUE(process->reap(std::chrono::seconds(5)));
  auto status = process->exit_status();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->signaled);
  EXPECT_EQ(status->code, 128 + SIGKILL);
}

// ---- session processes --------------------------------------------------------------

TEST(SessionProcesses, FindsAndKillsEveryJobOfTheSession) {
  test::become_subreaper();
  auto process = PtyProcess::spawn("/bin/sh", self(), TerminalSize{});
  ASSERT_TRUE(process.ok()) << process.error().message();
  const pid_t session = process->pid();
  // Two jobs in process groups of their own, one of them deaf to SIGHUP.
  std::string command = "set -m; sleep 1000 & sh -c 'trap \"\" HUP; sleep 1000' & echo started\n";
  ASSERT_EQ(::write(process->master(), command.data(), command.size()),
            static_cast<ssize_t>(command.size()));
  std::vector<pid_t> members;
  for (int i = 0; i < 200 && members.size() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    members = live_processes_in_session(session);
  }
  EXPECT_GE(members.size(), 4U);  // sh, sleep, sh, sleep
  // A SIGKILLed process is gone only once it has run again; retry like the plugin.
  for (int i = 0; i < 200 && kill_session(session) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(live_processes_in_session(session).empty());
  EXPECT_TRUE(process->reap(std::chrono::seconds(5)));
  EXPECT_FALSE(test::is_our_zombie(session));
  test::reap_orphans();
}

TEST(SessionProcesses, NeverScansInitsSession) {
  EXPECT_TRUE(live_processes_in_session(0).empty());
  EXPECT_TRUE(live_processes_in_session(1).empty());
}

}  // namespace
}  // namespace tether::plugins::shell
