// The shell plugin on the real EventLoop, against a fake Outbound that records what
// is sent and plays a fast, stalled or rate-limited backend.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plugins/shell/session_processes.hpp"
#include "plugins/shell/shell_plugin.hpp"
#include "plugins/shell/shell_wire.hpp"
#include "tests/unit/shell/fake_outbound.hpp"
#include "tests/unit/shell/loop_thread.hpp"
#include "tests/unit/shell/orphan_reaper.hpp"
#include "tests/unit/shell/throwaway_user.hpp"

namespace tether::plugins::shell {
namespace {

using namespace std::chrono_literals;
using protocol::ProtoMsg;
using test::FakeOutbound;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string text(const protocol::Bytes& bytes) {
  return {bytes.begin(), bytes.end()};
}

ProtoMsg shell_msg(std::string_view typ, const std::string& sid, protocol::Map props = {},
                   std::string body = {}) {
  return protocol::make_msg(protocol::proto::kShell, std::string(typ), sid, std::move(props),
                            protocol::Bytes(body.begin(), body.end()));
}

ShellOptions quiet_options() {
  ShellOptions options;
  options.idle_timeout = 0s;
  options.ping_interval = 0s;
  return options;
}

ShellTuning fast_tuning() {
  ShellTuning tuning;
  tuning.kill_grace = 300ms;
  tuning.linger = 500ms;
  return tuning;
}

class ShellPluginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { test::become_subreaper(); }

  void start(const ShellOptions& options = quiet_options(),
             const ShellTuning& tuning = fast_tuning()) {
    loop_.call([&] {
      outbound_ = std::make_unique<FakeOutbound>(loop_.loop());
      plugin_ = std::make_unique<ShellPlugin>(
          daemon::PluginContext{.loop = loop_.loop(),
                                .outbound = *outbound_,
                                .log = daemon::PluginLogger(logger_, "shell"),
                                .link = link_,
                                .device = {}},
          options, tuning);
    });
  }

  void TearDown() override {
    loop_.call([&] {
      plugin_.reset();
      outbound_.reset();
    });
    test::reap_orphans();
  }

  Status send(const ProtoMsg& msg) {
    return loop_.call([&] { return plugin_->on_message(msg); });
  }
  void type(const std::string& sid, const std::string& keys) {
    ASSERT_TRUE(send(shell_msg(wire::typ::kShell, sid, {}, keys)).ok());
  }

  // Starts a session and checks that it was accepted.
  void open(const std::string& sid, protocol::Map props = {}) {
    ASSERT_TRUE(send(shell_msg(wire::typ::kNew, sid, std::move(props))).ok());
    auto reply = wait_for(sid, wire::typ::kNew);
    ASSERT_TRUE(reply);
    ASSERT_EQ(reply->hdr.prop_int(wire::prop::kStatus), wire::status::kNormal) << text(reply->body);
  }

  std::vector<ProtoMsg> delivered(const std::string& sid, std::string_view typ) {
    return loop_.call([&] {
      std::vector<ProtoMsg> out;
      for (const auto& sent : outbound_->delivered()) {
        if (sent.msg.hdr.sid == sid && sent.msg.hdr.typ == typ) {
          out.push_back(sent.msg);
        }
      }
      return out;
    });
  }

  // The index-th delivered message of `typ` for `sid`, waiting up to `timeout`.
  std::optional<ProtoMsg> wait_for(const std::string& sid, std::string_view typ,
                                   std::chrono::milliseconds timeout = 10s, std::size_t index = 0) {
    std::optional<ProtoMsg> found;
    loop_.wait_until(
        [&] {
          std::size_t seen = 0;
          for (const auto& sent : outbound_->delivered()) {
            if (sent.msg.hdr.sid == sid && sent.msg.hdr.typ == typ && seen++ == index) {
              found = sent.msg;
              return true;
            }
          }
          return false;
        },
        timeout);
    return found;
  }

  // Everything the shell wrote, in order.
  std::string output(const std::string& sid) {
    return loop_.call([&] { return outbound_->output(sid).text; });
  }
  bool wait_output(const std::string& sid, const std::string& needle,
                   std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (contains(output(sid), needle)) {
        return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  // The refusal that answered the last message of `typ` for `sid`.
  std::string refusal(const std::string& sid, std::string_view typ) {
    auto replies = delivered(sid, typ);
    if (replies.empty()) {
      return "(no reply)";
    }
    const ProtoMsg& last = replies.back();
    if (last.hdr.prop_int(wire::prop::kStatus) != wire::status::kError) {
      return "(status " + std::to_string(last.hdr.prop_int(wire::prop::kStatus).value_or(-1)) + ")";
    }
    return text(last.body);
  }
  std::size_t sessions() {
    return loop_.call([&] { return plugin_->session_count(); });
  }
  pid_t shell_pid(const std::string& sid) {
    return loop_.call([&] { return plugin_->shell_pid(sid); });
  }

  // Audit lines (and any other log line) as the plugin wrote them; on the loop thread.
  std::vector<std::string> log_lines() {
    return loop_.call([&] { return lines_; });
  }
  // The first audit line that contains every one of `needles`, waiting for it.
  std::optional<std::string> wait_log(const std::vector<std::string>& needles,
                                      std::chrono::milliseconds timeout = 10s) {
    std::optional<std::string> found;
    loop_.wait_until(
        [&] {
          for (const std::string& line : lines_) {
            if (std::all_of(needles.begin(), needles.end(),
                            [&](const std::string& n) { return contains(line, n); })) {
              found = line;
              return true;
            }
          }
          return false;
        },
        timeout);
    return found;
  }

  std::vector<std::string> lines_;
  daemon::log::Logger logger_{
      daemon::log::Level::kInfo,
      [this](daemon::log::Level, std::string_view message, std::span<const daemon::log::Field>) {
        lines_.emplace_back(message);
      }};
  daemon::LinkObservers link_;
  test::LoopThread loop_;
  std::unique_ptr<FakeOutbound> outbound_;
  std::unique_ptr<ShellPlugin> plugin_;
};

// ---- the basics ---------------------------------------------------------------------

TEST_F(ShellPluginTest, EchoesThroughANewShell) {
  start();
  open("s1");
  type("s1", "echo hello-$((6*7))\n");
  EXPECT_TRUE(wait_output("s1", "hello-42")) << output("s1");
  // Output is sent as `shell` status 1 on the session's flow.
  auto first = wait_for("s1", wire::typ::kShell);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->hdr.prop_int(wire::prop::kStatus), wire::status::kNormal);
  EXPECT_EQ(loop_.call([&] { return outbound_->delivered().back().flow; }).rfind("shell/", 0), 0U);
}

TEST_F(ShellPluginTest, RunsOnATerminal) {
  start();
  open("s1");
  type("s1", "echo \"tty=$(tty)\"\n");
  EXPECT_TRUE(wait_output("s1", "tty=/dev/pts/")) << output("s1");
}

TEST_F(ShellPluginTest, TerminalSizeFollowsNewAndResize) {
  start();
  open("default");
  type("default", "echo \"size=$(stty size)\"\n");
  EXPECT_TRUE(wait_output("default", "size=40 80")) << output("default");

  open("s1", {{"terminal_width", 100}, {"terminal_height", 30}});
  type("s1", "echo \"size=$(stty size)\"\n");
  EXPECT_TRUE(wait_output("s1", "size=30 100")) << output("s1");
  ASSERT_TRUE(
      send(shell_msg(wire::typ::kResize, "s1", {{"terminal_width", 120}, {"terminal_height", 50}}))
          .ok());
  type("s1", "echo \"size=$(stty size)\"\n");
  EXPECT_TRUE(wait_output("s1", "size=50 120")) << output("s1");
}

TEST_F(ShellPluginTest, RunsAsTheConfiguredUser) {
  test::ThrowawayUser user;
  if (!user.available()) {
    GTEST_SKIP() << "needs root to create a throwaway user (running as uid " << ::geteuid() << ")";
  }
  ShellOptions options = quiet_options();
  options.user = user.name();
  start(options);
  open("s1");
  type("s1", "echo \"who=$(id -un) home=$HOME cwd=$(pwd) logname=$LOGNAME term=$TERM\"\n");
  EXPECT_TRUE(wait_output("s1", "who=" + user.name() + " home=" + user.home() +
                                    " cwd=" + user.home() + " logname=" + user.name() +
                                    " term=xterm-256color"))
      << output("s1");
  type("s1", "exit\n");
  ASSERT_TRUE(wait_for("s1", wire::typ::kStop));
}

TEST_F(ShellPluginTest, UnknownShellUserRefusesNew) {
  ShellOptions options = quiet_options();
  options.user = "no-such-user-tether-test";
  start(options);
  ASSERT_TRUE(send(shell_msg(wire::typ::kNew, "s1")).ok());
  ASSERT_TRUE(wait_for("s1", wire::typ::kNew));
  EXPECT_TRUE(contains(refusal("s1", wire::typ::kNew), "no-such-user-tether-test"));
}

// ---- ending -------------------------------------------------------------------------

TEST_F(ShellPluginTest, ExitCodeFollowsAllOutput) {
  start();
  open("s1");
  type("s1", "echo last-$((2+3)); exit 7\n");
  auto stop = wait_for("s1", wire::typ::kStop);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->hdr.prop_int(wire::prop::kStatus), wire::status::kNormal);
  EXPECT_EQ(stop->hdr.prop_int(wire::prop::kExitCode), 7);
  // The stop is the session's last message, after every byte of output.
  auto all = loop_.call([&] { return outbound_->delivered(); });
  std::string before_stop;
  bool stop_seen = false;
  for (const auto& sent : all) {
    if (sent.msg.hdr.sid != "s1") continue;
    EXPECT_FALSE(stop_seen) << "message after stop: " << sent.msg.hdr.typ;
    if (sent.msg.hdr.typ == wire::typ::kStop) stop_seen = true;
    if (sent.msg.hdr.typ == wire::typ::kShell) before_stop += text(sent.msg.body);
  }
  EXPECT_TRUE(contains(before_stop, "last-5\r\n")) << before_stop;
  EXPECT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 0; }));
}

TEST_F(ShellPluginTest, CtrlDEndsTheShell) {
  start();
  open("s1");
  type("s1", "\x04");
  auto stop = wait_for("s1", wire::typ::kStop);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->hdr.prop_int(wire::prop::kExitCode), 0);
}

TEST_F(ShellPluginTest, CtrlCInterruptsAForegroundCommand) {
  start();
  open("s1");
  type("s1", "sleep 1000; echo slept\n");
  std::this_thread::sleep_for(300ms);
  type("s1", "\x03");
  type("s1", "echo after-$((1+1))\n");
  EXPECT_TRUE(wait_output("s1", "after-2", 5s)) << output("s1");
  EXPECT_FALSE(contains(output("s1"), "\nslept"));
}

TEST_F(ShellPluginTest, StopEndsTheSessionAndEveryJobWithoutZombies) {
  start();
  open("s1");
  // One ordinary background job, one that ignores SIGHUP and needs the SIGKILL.
  type("s1", "set -m; sleep 1000 & sh -c 'trap \"\" HUP; sleep 1000' & echo job-$((40+2))\n");
  ASSERT_TRUE(wait_output("s1", "job-42"));
  const pid_t shell = shell_pid("s1");
  ASSERT_GT(shell, 1);
  EXPECT_TRUE(loop_.wait_until([&] { return live_processes_in_session(shell).size() >= 4; }, 5s));
  ASSERT_TRUE(send(shell_msg(wire::typ::kStop, "s1")).ok());
  auto stop = wait_for("s1", wire::typ::kStop, 10s);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->hdr.prop_int(wire::prop::kStatus), wire::status::kNormal);
  EXPECT_FALSE(stop->hdr.prop_int(wire::prop::kExitCode));  // it did not exit by itself
  EXPECT_TRUE(live_processes_in_session(shell).empty());
  EXPECT_FALSE(test::is_our_zombie(shell));
  EXPECT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 0; }));
}

TEST_F(ShellPluginTest, StopOfAnEndedSessionIsRefused) {
  start();
  open("s1");
  type("s1", "exit\n");
  ASSERT_TRUE(wait_for("s1", wire::typ::kStop));
  ASSERT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 0; }));
  ASSERT_TRUE(send(shell_msg(wire::typ::kStop, "s1")).ok());
  ASSERT_TRUE(wait_for("s1", wire::typ::kStop, 5s, 1));
  EXPECT_EQ(refusal("s1", wire::typ::kStop), "session not found");
}

TEST_F(ShellPluginTest, StopByUserIdEndsOnlyThatUsersShells) {
  start();
  open("a1", {{"user_id", "alice"}});
  open("a2", {{"user_id", "alice"}});
  open("b1", {{"user_id", "bob"}});
  ASSERT_TRUE(send(shell_msg(wire::typ::kStop, "", {{"user_id", "alice"}})).ok());
  EXPECT_TRUE(wait_for("a1", wire::typ::kStop));
  EXPECT_TRUE(wait_for("a2", wire::typ::kStop));
  EXPECT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 1; }));
  type("b1", "echo bob-$((1+2))\n");
  EXPECT_TRUE(wait_output("b1", "bob-3"));
}

TEST_F(ShellPluginTest, ControlCloseStopsTheSessionAsStopWould) {
  start();
  open("s1");
  open("s2");
  type("s1", "set -m; sleep 1000 & echo job-$((40+3))\n");
  ASSERT_TRUE(wait_output("s1", "job-43"));
  const pid_t shell = shell_pid("s1");
  // What the router calls for control `close` (or `error` close:true) with sid s1.
  loop_.call([&] { plugin_->on_session_closed("s1"); });
  auto stop = wait_for("s1", wire::typ::kStop, 10s);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->hdr.prop_int(wire::prop::kStatus), wire::status::kNormal);
  EXPECT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 1; }));
  EXPECT_TRUE(live_processes_in_session(shell).empty());
  EXPECT_FALSE(test::is_our_zombie(shell));
  // Another sid (not a shell's) is ignored, and s2 lives on.
  loop_.call([&] { plugin_->on_session_closed("not-a-shell"); });
  EXPECT_TRUE(delivered("not-a-shell", wire::typ::kStop).empty());
  type("s2", "echo still-$((3+3))\n");
  EXPECT_TRUE(wait_output("s2", "still-6"));
  EXPECT_TRUE(wait_log({"audit: shell close sid=s1 ", " reason=closed", " exit_code="}));
}

// ---- audit log ---------------------------------------------------------------------

TEST_F(ShellPluginTest, AuditLogRecordsOpenAndCloseWithExitCode) {
  start();
  open("s1", {{"user_id", "alice@example.com"}});
  const pid_t pid = shell_pid("s1");
  auto opened = wait_log({"audit: shell open sid=s1 "});
  ASSERT_TRUE(opened);
  // Fixed order and names: sid, user_id, pid, user.
  const std::string user = loop_.call([] { return lookup_user("").value().name; });
  EXPECT_EQ(*opened, "audit: shell open sid=s1 user_id=alice@example.com pid=" +
                         std::to_string(pid) + " user=" + user);
  type("s1", "exit 3\n");
  auto closed = wait_log({"audit: shell close sid=s1 "});
  ASSERT_TRUE(closed);
  EXPECT_TRUE(contains(*closed, "audit: shell close sid=s1 user_id=alice@example.com duration="))
      << *closed;
  EXPECT_TRUE(contains(*closed, "s reason=exited exit_code=3")) << *closed;
}

TEST_F(ShellPluginTest, AuditLogRecordsWhyASessionWasStopped) {
  start();
  open("a", {{"user_id", "ops team"}});
  open("b");
  ASSERT_TRUE(send(shell_msg(wire::typ::kStop, "a")).ok());
  auto stopped = wait_log({"audit: shell close sid=a "});
  ASSERT_TRUE(stopped);
  // A user_id with a space is quoted: it cannot split the line.
  EXPECT_TRUE(contains(*stopped, "user_id=\"ops team\"")) << *stopped;
  EXPECT_TRUE(contains(*stopped, "reason=stopped exit_code=")) << *stopped;
  loop_.call([&] {
    outbound_->disconnect();
    plugin_->on_disconnected();
  });
  auto dropped = wait_log({"audit: shell close sid=b ", "reason=link-down"});
  EXPECT_TRUE(dropped);
  // One open and one close per session, nothing more.
  const auto lines = log_lines();
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& l) { return contains(l, "audit: shell open"); }),
            2);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& l) { return contains(l, "audit: shell close"); }),
            2);
}

TEST_F(ShellPluginTest, AuditLogClosesSessionsStillRunningWhenThePluginGoes) {
  start();
  open("s1");
  loop_.call([&] { plugin_.reset(); });
  const auto lines = log_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(contains(lines.back(), "audit: shell close sid=s1 ")) << lines.back();
  EXPECT_TRUE(contains(lines.back(), "reason=plugin-stopped")) << lines.back();
}

TEST_F(ShellPluginTest, LinkDropStopsEveryShell) {
  start();
  open("s1");
  type("s1", "echo up-$((2+2))\n");
  ASSERT_TRUE(wait_output("s1", "up-4"));
  const pid_t shell = shell_pid("s1");
  loop_.call([&] {
    outbound_->disconnect();
    plugin_->on_disconnected();
  });
  EXPECT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 0; }));
  EXPECT_TRUE(live_processes_in_session(shell).empty());
  EXPECT_FALSE(test::is_our_zombie(shell));
}

TEST_F(ShellPluginTest, ShutdownSaysGoodbyeAndLeavesNoProcess) {
  start();
  open("s1");
  open("s2");
  const pid_t one = shell_pid("s1");
  const pid_t two = shell_pid("s2");
  loop_.call([&] { plugin_->on_shutdown(); });
  EXPECT_TRUE(wait_for("s1", wire::typ::kStop, 1s));
  EXPECT_TRUE(wait_for("s2", wire::typ::kStop, 1s));
  loop_.call([&] { plugin_.reset(); });  // the daemon tears down without waiting
  EXPECT_TRUE(live_processes_in_session(one).empty());
  EXPECT_TRUE(live_processes_in_session(two).empty());
  EXPECT_FALSE(test::is_our_zombie(one));
  EXPECT_FALSE(test::is_our_zombie(two));
}

// ---- limits and refusals ------------------------------------------------------------

TEST_F(ShellPluginTest, FiftyConcurrentSessions) {
  ShellOptions options = quiet_options();
  options.max_sessions = 64;
  options.max_per_user = 64;
  start(options);
  for (int i = 0; i < 50; ++i) {
    open("s" + std::to_string(i));
  }
  for (int i = 0; i < 50; ++i) {
    type("s" + std::to_string(i), "echo ready-$((" + std::to_string(i) + "+1000))\n");
  }
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(wait_output("s" + std::to_string(i), "ready-" + std::to_string(i + 1000)))
        << "session " << i;
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(send(shell_msg(wire::typ::kStop, "s" + std::to_string(i))).ok());
  }
  EXPECT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 0; }, 20s));
}

TEST_F(ShellPluginTest, MaxSessionsRefusesTheNextNew) {
  ShellOptions options = quiet_options();
  options.max_sessions = 2;
  start(options);
  open("s1", {{"user_id", "a"}});
  open("s2", {{"user_id", "b"}});
  ASSERT_TRUE(send(shell_msg(wire::typ::kNew, "s3", {{"user_id", "c"}})).ok());
  ASSERT_TRUE(wait_for("s3", wire::typ::kNew));
  EXPECT_TRUE(contains(refusal("s3", wire::typ::kNew), "too many sessions"));
  EXPECT_EQ(sessions(), 2U);
  // A slot freed is a slot available again: the count does not leak.
  type("s1", "exit\n");
  ASSERT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 1; }));
  open("s4", {{"user_id", "c"}});
}

TEST_F(ShellPluginTest, MaxPerUserRefusesThatUserOnly) {
  ShellOptions options = quiet_options();
  options.max_per_user = 1;
  start(options);
  open("s1", {{"user_id", "alice"}});
  ASSERT_TRUE(send(shell_msg(wire::typ::kNew, "s2", {{"user_id", "alice"}})).ok());
  ASSERT_TRUE(wait_for("s2", wire::typ::kNew));
  EXPECT_TRUE(contains(refusal("s2", wire::typ::kNew), "alice"));
  open("s3", {{"user_id", "bob"}});
}

TEST_F(ShellPluginTest, SecondNewOnALiveSidIsRefused) {
  start();
  open("s1");
  const pid_t shell = shell_pid("s1");
  ASSERT_TRUE(send(shell_msg(wire::typ::kNew, "s1")).ok());
  ASSERT_TRUE(wait_for("s1", wire::typ::kNew, 5s, 1));
  EXPECT_TRUE(contains(refusal("s1", wire::typ::kNew), "already exists"));
  EXPECT_EQ(shell_pid("s1"), shell);  // the first shell is untouched
  type("s1", "echo still-$((3*3))\n");
  EXPECT_TRUE(wait_output("s1", "still-9"));
}

TEST_F(ShellPluginTest, UnknownSidIsRefused) {
  start();
  for (std::string_view typ : {wire::typ::kShell, wire::typ::kResize, wire::typ::kStop}) {
    ASSERT_TRUE(send(shell_msg(typ, "nope", {}, "x")).ok());
    ASSERT_TRUE(wait_for("nope", typ, 5s)) << typ;
    EXPECT_EQ(refusal("nope", typ), "session not found") << typ;
  }
}

TEST_F(ShellPluginTest, GarbagePropsAreRefusedWithAReason) {
  start();
  const protocol::Value garbage[] = {-1, 0, 100000, "wide", 80.5, protocol::Array{}};
  int n = 0;
  for (const auto& value : garbage) {
    const std::string sid = "g" + std::to_string(n++);
    ASSERT_TRUE(send(shell_msg(wire::typ::kNew, sid, {{"terminal_width", value}})).ok());
    ASSERT_TRUE(wait_for(sid, wire::typ::kNew));
    EXPECT_TRUE(contains(refusal(sid, wire::typ::kNew), "terminal_width")) << sid;
  }
  ASSERT_TRUE(send(shell_msg(wire::typ::kNew, "u", {{"user_id", 42}})).ok());
  ASSERT_TRUE(wait_for("u", wire::typ::kNew));
  EXPECT_TRUE(contains(refusal("u", wire::typ::kNew), "user_id"));
  ASSERT_TRUE(send(shell_msg(wire::typ::kNew, "")).ok());
  ASSERT_TRUE(wait_for("", wire::typ::kNew));
  EXPECT_TRUE(contains(refusal("", wire::typ::kNew), "sid"));
  ASSERT_TRUE(send(shell_msg(wire::typ::kNew, std::string(300, 'x'))).ok());
  EXPECT_EQ(sessions(), 0U);

  // A bad resize leaves the session and its size alone.
  open("s1", {{"terminal_width", 90}, {"terminal_height", 20}});
  ASSERT_TRUE(send(shell_msg(wire::typ::kResize, "s1", {{"terminal_height", -5}})).ok());
  ASSERT_TRUE(wait_for("s1", wire::typ::kResize));
  EXPECT_TRUE(contains(refusal("s1", wire::typ::kResize), "terminal_height"));
  type("s1", "echo \"size=$(stty size)\"\n");
  EXPECT_TRUE(wait_output("s1", "size=20 90")) << output("s1");

  // An unknown typ is an error for the router to answer on the control protocol.
  EXPECT_FALSE(send(shell_msg("bogus", "s1")).ok());
}

TEST_F(ShellPluginTest, InputBeyondTheCapIsRefusedNotBuffered) {
  ShellTuning tuning = fast_tuning();
  tuning.input_cap = 64 * 1024;
  start(quiet_options(), tuning);
  open("s1");
  // A shell that never reads: the PTY's input queue fills, then ours.
  type("s1", "stty -icanon; sleep 1000\n");
  std::this_thread::sleep_for(200ms);
  const std::string blob(16 * 1024, 'k');
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(send(shell_msg(wire::typ::kShell, "s1", {}, blob)).ok());
  }
  EXPECT_TRUE(contains(refusal("s1", wire::typ::kShell), "input buffer full"));
}

// ---- timers -------------------------------------------------------------------------

TEST_F(ShellPluginTest, IdleSessionIsStopped) {
  ShellOptions options = quiet_options();
  options.idle_timeout = 1s;
  start(options);
  open("s1");
  // Input keeps it alive past one timeout...
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(400ms);
    type("s1", "\n");
  }
  EXPECT_EQ(delivered("s1", wire::typ::kStop).size(), 0U);
  // ...silence ends it.
  auto stop = wait_for("s1", wire::typ::kStop, 5s);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->hdr.prop_int(wire::prop::kStatus), wire::status::kError);
  EXPECT_EQ(text(stop->body), "idle timeout");
  EXPECT_TRUE(loop_.wait_until([&] { return plugin_->session_count() == 0; }));
}

TEST_F(ShellPluginTest, HealthPingWithoutPongStopsTheShell) {
  ShellOptions options = quiet_options();
  options.ping_interval = 1s;
  ShellTuning tuning = fast_tuning();
  tuning.pong_timeout = 1s;
  start(options, tuning);
  open("quiet");
  open("answers");
  auto ping = wait_for("quiet", wire::typ::kPing, 5s);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->hdr.prop_int(wire::prop::kTimeout), 1);
  EXPECT_EQ(ping->hdr.prop_int(wire::prop::kStatus), wire::status::kControl);
  // "answers" pongs every ping for 3 s; "quiet" never does.
  const auto until = std::chrono::steady_clock::now() + 3s;
  std::size_t answered = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto pings = delivered("answers", wire::typ::kPing);
    for (; answered < pings.size(); ++answered) {
      ASSERT_TRUE(send(shell_msg(wire::typ::kPong, "answers")).ok());
    }
    std::this_thread::sleep_for(50ms);
  }
  auto stop = wait_for("quiet", wire::typ::kStop, 5s);
  ASSERT_TRUE(stop);
  EXPECT_TRUE(contains(text(stop->body), "health check"));
  EXPECT_GE(answered, 2U);
  EXPECT_EQ(delivered("answers", wire::typ::kStop).size(), 0U);
}

TEST_F(ShellPluginTest, PingTimeoutDefaultsToTheIntervalPlusFiveSeconds) {
  // Mender's rule: a 60 s interval announces (and grants) 65 s; here 1 s -> 6 s.
  ShellOptions options = quiet_options();
  options.ping_interval = 1s;
  start(options, fast_tuning());
  open("s1");
  auto ping = wait_for("s1", wire::typ::kPing, 5s);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->hdr.prop_int(wire::prop::kTimeout), 6);
  // Unanswered for 2 s, yet within its 6 s: still running.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(delivered("s1", wire::typ::kStop).size(), 0U);
}

// ---- bytes and flow control ---------------------------------------------------------

TEST_F(ShellPluginTest, ArbitraryBytesPassBothWaysUnchanged) {
  start();
  open("s1");
  char dir_template[] = "/tmp/tether-shell-bytes-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  // Every byte value, twice, as input in pieces that split multi-byte sequences.
  std::string all_bytes;
  for (int round = 0; round < 2; ++round) {
    for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  }
  all_bytes += "\xe2\x82\xac\xc3\xa9";  // € é
  type("s1", "stty raw -echo; head -c " + std::to_string(all_bytes.size()) + " > " + dir +
                 "/in; stty sane; echo got-$((1+1))\n");
  std::this_thread::sleep_for(300ms);
  for (std::size_t at = 0; at < all_bytes.size(); at += 7) {
    type("s1", all_bytes.substr(at, 7));
  }
  ASSERT_TRUE(wait_output("s1", "got-2")) << output("s1");
  std::string received(all_bytes.size() + 16, '\0');
  FILE* in = std::fopen((dir + "/in").c_str(), "rb");
  ASSERT_NE(in, nullptr);
  received.resize(std::fread(received.data(), 1, received.size(), in));
  std::fclose(in);
  EXPECT_EQ(received, all_bytes);

  // And out: the same bytes, with output processing off, arrive intact.
  type("s1",
       "stty -opost -echo; echo mark-$((5+5)); cat " + dir + "/in; echo; echo end-$((6+6))\n");
  ASSERT_TRUE(wait_output("s1", "end-12")) << output("s1");
  const std::string out = output("s1");
  const std::size_t mark = out.find("mark-10\n");
  ASSERT_NE(mark, std::string::npos);
  EXPECT_EQ(out.substr(mark + 8, all_bytes.size()), all_bytes);
  std::filesystem::remove_all(dir);
}

TEST_F(ShellPluginTest, StalledBackendPausesTheShellAndLosesNothing) {
  ShellTuning tuning = fast_tuning();
  tuning.session_queue_cap = 128 * 1024;
  tuning.session_queue_low = 32 * 1024;
  start(quiet_options(), tuning);
  open("s1");
  type("s1", "stty -opost -echo; echo rea''dy\n");
  ASSERT_TRUE(wait_output("s1", "ready"));
  const std::size_t before = output("s1").size();
  loop_.call([&] { outbound_->stall(); });
  constexpr std::size_t kBytes = 5 * 1000 * 1000;
  type("s1", "head -c " + std::to_string(kBytes) + " /dev/zero | tr '\\0' x; exit 3\n");
  // While nothing drains, the queue stays bounded and the shell blocks.
  std::this_thread::sleep_for(1500ms);
  const std::size_t queued = loop_.call([&] { return outbound_->total_queued_bytes(); });
  const std::size_t peak = loop_.call([&] { return outbound_->peak_total_queued(); });
  EXPECT_LE(peak, tuning.session_queue_cap + tuning.read_chunk + 4096);
  EXPECT_GT(queued, 0U);
  EXPECT_GE(loop_.call([&] { return outbound_->drain_waits(); }), 1U);
  EXPECT_EQ(delivered("s1", wire::typ::kStop).size(), 0U);  // still writing: blocked
  loop_.call([&] { outbound_->deliver_instantly(); });
  auto stop = wait_for("s1", wire::typ::kStop, 20s);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->hdr.prop_int(wire::prop::kExitCode), 3);
  const std::string out = output("s1").substr(before);
  EXPECT_EQ(static_cast<std::size_t>(std::count(out.begin(), out.end(), 'x')), kBytes);
}

TEST_F(ShellPluginTest, AFloodingSessionDoesNotDelayAnothersEcho) {
  start();
  open("flood");
  open("typist");
  type("typist", "stty -echo; echo rea''dy\n");
  ASSERT_TRUE(wait_output("typist", "ready"));
  // A backend link of about 12.8 MB/s, shared by both sessions.
  loop_.call([&] {
    outbound_->keep_only_output_tail(64 * 1024);
    outbound_->rate_limit(64 * 1024, 5ms);
  });
  type("flood", "cat /dev/urandom | base64\n");
  ASSERT_TRUE(loop_.wait_until([&] { return outbound_->output("flood").bytes > 2000000; }));
  const std::size_t flood_before = loop_.call([&] { return outbound_->output("flood").bytes; });
  std::vector<double> latencies_ms;
  for (int i = 0; i < 40; ++i) {
    const std::string token = "p" + std::to_string(1000 + i);
    const auto sent = std::chrono::steady_clock::now();
    type("typist", "echo " + token.substr(0, 2) + "''" + token.substr(2) + "\n");
    ASSERT_TRUE(wait_output("typist", token + "\r\n", 5s)) << token;
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count());
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double p50 = latencies_ms[latencies_ms.size() / 2];
  const double p99 = latencies_ms[latencies_ms.size() * 99 / 100];
  RecordProperty("echo_p50_ms", std::to_string(p50));
  RecordProperty("echo_p99_ms", std::to_string(p99));
  EXPECT_LT(p99, 200.0) << "p50 " << p50 << " ms";
  // The flood really flowed meanwhile, and in large messages.
  auto flood = loop_.call([&] { return outbound_->output("flood"); });
  EXPECT_GT(flood.bytes, flood_before + 500000U);
  std::printf("echo under flood: p50 %.1f ms, p99 %.1f ms; flood %zu bytes in %zu messages\n", p50,
              p99, flood.bytes, flood.messages);
  // Few, large messages: on average well above the kernel's 4 KiB PTY pieces
  // (mender-connect sent 255-byte ones).
  EXPECT_GE(flood.bytes / std::max<std::size_t>(flood.messages, 1), 8192U)
      << flood.large_messages << " of " << flood.messages << " messages >= 4 KiB";
  ASSERT_TRUE(send(shell_msg(wire::typ::kStop, "flood")).ok());
  EXPECT_TRUE(wait_for("flood", wire::typ::kStop, 10s));
}

}  // namespace
}  // namespace tether::plugins::shell
