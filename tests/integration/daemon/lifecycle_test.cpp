// Start-up checks and the clean stop.
#include <signal.h>

#include "protocol/codec.hpp"
#include "tests/integration/daemon/daemon_fixture.hpp"
#include "tests/support/notify_socket.hpp"

namespace tether::test {
namespace {

TEST_F(DaemonTest, SigtermClosesWith1001AndExitsZero) {
  auto& daemon = start_daemon();
  expect_connection();
  // The server's side is up before the daemon has read the 101; wait for both.
  ASSERT_TRUE(daemon.wait_for_output("connected to", 3s));
  const auto sent = std::chrono::steady_clock::now();
  daemon.send_signal(SIGTERM);
  auto code = server_->wait_for_close(5s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1001);
  auto status = daemon.wait_for_exit(5s);
  ASSERT_TRUE(status.has_value()) << "still running 5 s after SIGTERM";
  EXPECT_EQ(*status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 5s);
}

TEST_F(DaemonTest, SigintWhileOfflineExitsZero) {
  server_->stop();
  auto& daemon = start_daemon();
  ASSERT_TRUE(daemon.wait_for_output("reconnecting", 3s));
  daemon.send_signal(SIGINT);
  auto status = daemon.wait_for_exit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
}

TEST_F(DaemonTest, CheckConfigAcceptsGoodOptionsAndNamesEveryBadOne) {
  auto good =
      run_to_completion(TETHERD_PATH, {"--check-config", "--server.url=wss://localhost"}, 5s);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->exit_status, 0) << good->output;

  auto bad = run_to_completion(
      TETHERD_PATH,
      {"--check-config", "--server.url=wss://localhost", "--server.ping-interval=soon",
       "--shell.max-sessions=-2", "--dbus.bus=bogus", "--server.key-file=/nonexistent/key.pem"},
      5s);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->exit_status, 2);
  for (const char* name :
       {"server.ping-interval", "shell.max-sessions", "dbus.bus", "server.key-file"})
    EXPECT_NE(bad->output.find(name), std::string::npos) << name << " not named:\n" << bad->output;
  EXPECT_EQ(bad->output.find("terminate"), std::string::npos);
}

TEST_F(DaemonTest, ConfigFileIsReadAndTheCommandLineWins) {
  const auto config = dir_.write("tetherd.conf",
                                 "[server]\nurl = wss://localhost\nping-interval = nonsense\n"
                                 "[shell]\nmax-sessions = 3\n");
  auto overridden = run_to_completion(
      TETHERD_PATH, {"--check-config", "--config", config.string(), "--server.ping-interval=5"},
      5s);
  ASSERT_TRUE(overridden.ok());
  EXPECT_EQ(overridden->exit_status, 0) << overridden->output;

  auto from_file =
      run_to_completion(TETHERD_PATH, {"--check-config", "--config", config.string()}, 5s);
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->exit_status, 2);
  EXPECT_NE(from_file->output.find("server.ping-interval"), std::string::npos);
}

TEST_F(DaemonTest, StartWithBadOptionExitsTwoWithoutConnecting) {
  auto result = run_to_completion(
      TETHERD_PATH, {"--server.url=" + server_->url(), "--server.pong-timeout=-1"}, 5s);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_status, 2);
  EXPECT_NE(result->output.find("server.pong-timeout"), std::string::npos);
  EXPECT_FALSE(server_->wait_for_connection(200ms).has_value());
}

TEST_F(DaemonTest, TalksToSystemdReadyStatusWatchdogStopping) {
  NotifySocket notify((dir_.path() / "notify.sock").string());
  ASSERT_TRUE(notify.bound());
  auto process = DaemonProcess::start(
      TETHERD_PATH, fast_args(server_->url()),
      {"NOTIFY_SOCKET=" + (dir_.path() / "notify.sock").string(), "WATCHDOG_USEC=200000"});
  ASSERT_TRUE(process.ok());
  daemon_ = std::move(process).value();
  EXPECT_TRUE(notify.wait_for("READY=1", 3s)) << notify.received();
  expect_connection();
  EXPECT_TRUE(notify.wait_for("STATUS=online", 3s)) << notify.received();
  EXPECT_TRUE(notify.wait_for("WATCHDOG=1", 3s)) << notify.received();
  daemon_->send_signal(SIGTERM);
  EXPECT_TRUE(notify.wait_for("STOPPING=1", 3s)) << notify.received();
  EXPECT_EQ(daemon_->wait_for_exit(5s), 0);
}

TEST_F(DaemonTest, EnabledShellIsListedInControlAccept) {
  start_daemon({"--shell.enabled=true"});
  expect_connection();
  protocol::Map v1{{"versions", protocol::Array{protocol::Value(1)}}};
  ASSERT_TRUE(server_->send(
      protocol::make_msg(0xFFFF, "open", "s1", {}, protocol::encode_value(protocol::Value(v1)))));
  std::optional<protocol::ProtoMsg> accept;
  for (int i = 0; i < 5 && !accept; ++i) {
    auto msg = server_->receive_message(3s);
    if (!msg) break;
    if (msg->hdr.typ == "accept") accept = msg;
  }
  ASSERT_TRUE(accept.has_value());
  // {version:1, protocols:[1]} with 1 as uint16, as the Go peer writes it.
  EXPECT_EQ(accept->body,
            (protocol::Bytes{0x82, 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n',  0x01, 0xa9, 'p',
                             'r',  'o',  't', 'o', 'c', 'o', 'l', 's', 0x91, 0xcd, 0x00, 0x01}));
}

}  // namespace
}  // namespace tether::test
