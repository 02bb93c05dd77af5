// The shell plugin inside the real tetherd, against the real TLS WebSocket test
// server: a shell opened from the "backend", used, and the daemon killed under it.
#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "plugins/shell/session_processes.hpp"
#include "plugins/shell/shell_wire.hpp"
#include "tests/integration/daemon/daemon_fixture.hpp"

namespace tether::test {
namespace {

namespace wire = plugins::shell::wire;

protocol::ProtoMsg shell_msg(std::string_view typ, const std::string& sid, std::string body = {},
                             protocol::Map props = {}) {
  return protocol::make_msg(protocol::proto::kShell, std::string(typ), sid, std::move(props),
                            protocol::Bytes(body.begin(), body.end()));
}

class ShellIntegrationTest : public DaemonTest {
 protected:
  void start_with_shell() {
    start_daemon({"--shell.enabled=true", "--shell.command=/bin/sh", "--shell.ping-interval=0"});
    expect_connection();
  }

  // Reads messages until a shell message of `typ` for `sid` arrives; output seen on
  // the way is collected into output_.
  std::optional<protocol::ProtoMsg> receive_until(std::string_view typ, const std::string& sid,
                                                  std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto msg = server_->receive_message(200ms);
      if (!msg || msg->hdr.proto != protocol::proto::kShell || msg->hdr.sid != sid) continue;
      if (msg->hdr.typ == wire::typ::kShell) output_.append(msg->body.begin(), msg->body.end());
      if (msg->hdr.typ == typ) return msg;
    }
    return std::nullopt;
  }
  bool wait_output(const std::string& sid, const std::string& needle,
                   std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (output_.find(needle) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      receive_until("(none)", sid, 100ms);
    }
    return output_.find(needle) != std::string::npos;
  }
  // The shell's pid as the host sees it: the daemon's only child. ($$ would not do:
  // the shell is pid 1 of its own PID namespace.)
  pid_t shell_pid(const std::string& /*sid*/) {
    const std::string children = "/proc/" + std::to_string(daemon_->pid()) + "/task/" +
                                 std::to_string(daemon_->pid()) + "/children";
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(children);
      pid_t pid = -1;
      if (in >> pid && pid > 1) return pid;
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }
  static bool session_gone(pid_t session, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!plugins::shell::live_processes_in_session(session).empty()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  std::string output_;
};

TEST_F(ShellIntegrationTest, OpenEchoAndStop) {
  start_with_shell();
  ASSERT_TRUE(server_->send(
      shell_msg(wire::typ::kNew, "s1", {},
                {{"user_id", "u1"}, {"terminal_width", 100}, {"terminal_height", 30}})));
  auto reply = receive_until(wire::typ::kNew, "s1");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->hdr.prop_int(wire::prop::kStatus), wire::status::kNormal);
  ASSERT_TRUE(
      server_->send(shell_msg(wire::typ::kShell, "s1", "echo \"hi-$((6*7)) $(stty size)\"\n")));
  EXPECT_TRUE(wait_output("s1", "hi-42 30 100")) << output_;
  const pid_t shell = shell_pid("s1");
  ASSERT_GT(shell, 1);
  ASSERT_TRUE(server_->send(shell_msg(wire::typ::kShell, "s1", "sleep 1000 &\n")));
  ASSERT_TRUE(server_->send(shell_msg(wire::typ::kStop, "s1")));
  auto stop = receive_until(wire::typ::kStop, "s1");
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->hdr.prop_int(wire::prop::kStatus), wire::status::kNormal);
  EXPECT_TRUE(session_gone(shell, 1s));
}

TEST_F(ShellIntegrationTest, Kill9OfTetherdLeavesNoShell) {
  start_with_shell();
  ASSERT_TRUE(server_->send(shell_msg(wire::typ::kNew, "s1")));
  auto reply = receive_until(wire::typ::kNew, "s1");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->hdr.prop_int(wire::prop::kStatus), wire::status::kNormal);
  ASSERT_TRUE(server_->send(shell_msg(wire::typ::kShell, "s1", "echo up-$((1+1))\n")));
  ASSERT_TRUE(wait_output("s1", "up-2")) << output_;
  const pid_t shell = shell_pid("s1");
  ASSERT_GT(shell, 1);
  // A background job (its own process group) and a foreground command are running
  // when the daemon dies.
  ASSERT_TRUE(server_->send(shell_msg(wire::typ::kShell, "s1", "sleep 1000 & sleep 1001\n")));
  std::this_thread::sleep_for(300ms);
  ASSERT_GE(plugins::shell::live_processes_in_session(shell).size(), 3U);
  daemon_->send_signal(SIGKILL);
  ASSERT_TRUE(daemon_->wait_for_exit(5s));
  EXPECT_TRUE(session_gone(shell, 3s))
      << "left: " << plugins::shell::live_processes_in_session(shell).size();
}

TEST_F(ShellIntegrationTest, SigtermStopsEveryShellAndItsJobs) {
  start_with_shell();
  ASSERT_TRUE(server_->send(shell_msg(wire::typ::kNew, "s1")));
  ASSERT_TRUE(receive_until(wire::typ::kNew, "s1"));
  const pid_t shell = shell_pid("s1");
  ASSERT_GT(shell, 1);
  ASSERT_TRUE(server_->send(shell_msg(wire::typ::kShell, "s1", "sleep 1000 & echo bg-$((3+4))\n")));
  ASSERT_TRUE(wait_output("s1", "bg-7"));
  daemon_->send_signal(SIGTERM);
  auto stop = receive_until(wire::typ::kStop, "s1", 5s);
  EXPECT_TRUE(stop);
  auto status = daemon_->wait_for_exit(6s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0);
  EXPECT_TRUE(session_gone(shell, 1s));
}

}  // namespace
}  // namespace tether::test
