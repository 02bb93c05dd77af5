// tetherctl: status output and exit codes, with and without a daemon on the bus.
#include <string>

#include "tests/integration/dbus/bus_fixture.hpp"

namespace tether::test {
namespace {

TEST_F(BusTest, TetherctlStatusPrintsEveryProperty) {
  start_on_bus();
  expect_connection();
  ASSERT_TRUE(wait_for_property("State", "s \"online\"", 5s));
  auto status = tetherctl({"--bus", "session", "status"});
  ASSERT_EQ(status.exit_status, 0) << status.output;
  EXPECT_NE(status.output.find("State:           online\n"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("Device id:       test-device\n"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("Server URL:      " + server_->url() + "/"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find(std::string("Version:         ") + TETHER_VERSION + "\n"),
            std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("Pending records: 0\n"), std::string::npos) << status.output;

  auto equals_form = tetherctl({"--bus=session", "status"});
  EXPECT_EQ(equals_form.exit_status, 0) << equals_form.output;

  server_->stop();
  ASSERT_TRUE(wait_for_property("State", "s \"offline\"", 5s) ||
              wait_for_property("State", "s \"connecting\"", 5s));
  auto offline = tetherctl({"--bus", "session", "status"});
  EXPECT_EQ(offline.exit_status, 0) << offline.output;
  EXPECT_EQ(offline.output.find("State:           online"), std::string::npos) << offline.output;
}

TEST_F(BusTest, TetherctlStatusWithoutDaemonFailsWithTheBusSentence) {
  auto status = tetherctl({"--bus", "session", "status"});
  EXPECT_EQ(status.exit_status, 1) << status.output;
  EXPECT_NE(status.output.find("tetherctl: tetherd is not running on the session bus"),
            std::string::npos)
      << status.output;
  // The bus's own sentence is kept.
  EXPECT_NE(status.output.find("io.tether.Gateway1"), std::string::npos) << status.output;
  EXPECT_EQ(status.output.find("State:"), std::string::npos) << status.output;
}

TEST_F(BusTest, TetherctlCommandLineErrorsExit2) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"--bus", "session"},
                                               {"--bus"},
                                               {"--bus", "tram", "status"},
                                               {"--bogus", "status"},
                                               {"--bus", "session", "frobnicate"},
                                               {"--bus", "session", "status", "extra"}}) {
    auto run = tetherctl(args);
    EXPECT_EQ(run.exit_status, 2) << run.output;
    EXPECT_NE(run.output.find("tetherctl: "), std::string::npos) << run.output;
  }
}

TEST_F(BusTest, TetherctlHelpListsStatus) {
  auto help = tetherctl({"--help"});
  EXPECT_EQ(help.exit_status, 0) << help.output;
  EXPECT_NE(help.output.find("--bus system|session"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("status"), std::string::npos) << help.output;
}

TEST_F(BusTest, TetherctlOnAnUnreachableBusFails) {
  auto run = DaemonProcess::start(TETHERCTL_PATH, {"--bus", "session", "status"},
                                  {"DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus"});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ((*run)->wait_for_exit(10s), 1);
  (*run)->wait_for_output("\x01never\x01", 2s);
  EXPECT_NE((*run)->output().find("tetherctl: "), std::string::npos) << (*run)->output();
}

}  // namespace
}  // namespace tether::test
