// io.tether.Gateway1 on a private bus: introspection, every property, State's
// PropertiesChanged, Reconnect, bad calls, dbus.bus = none, the name and READY.
#include <csignal>
#include <string>

#include "tests/integration/dbus/bus_fixture.hpp"
#include "tests/support/notify_socket.hpp"

namespace tether::test {
namespace {

const std::vector<std::string> kGateway = {"io.tether.Gateway1", "/io/tether/Gateway1"};

std::vector<std::string> gateway_call(const std::string& verb,
                                      const std::vector<std::string>& rest) {
  std::vector<std::string> args = {verb, "io.tether.Gateway1", "/io/tether/Gateway1"};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

TEST_F(BusTest, IntrospectionShowsEveryGatewayMember) {
  start_on_bus();
  expect_connection();
  auto busctl_view = busctl({"introspect", "io.tether.Gateway1", "/io/tether/Gateway1"});
  ASSERT_EQ(busctl_view.exit_status, 0) << busctl_view.output;
  for (const char* member : {"io.tether.Gateway1", ".Reconnect", ".State", ".DeviceId",
                             ".ServerUrl", ".Version", ".PendingRecords"})
    EXPECT_NE(busctl_view.output.find(member), std::string::npos) << member << "\n"
                                                                  << busctl_view.output;
  EXPECT_NE(busctl_view.output.find("emits-change"), std::string::npos) << busctl_view.output;

  auto gdbus_view = gdbus({"introspect", "--session", "--dest", "io.tether.Gateway1",
                           "--object-path", "/io/tether/Gateway1"});
  ASSERT_EQ(gdbus_view.exit_status, 0) << gdbus_view.output;
  for (const char* member :
       {"interface io.tether.Gateway1", "Reconnect();", "readonly s State", "readonly s DeviceId",
        "readonly s ServerUrl", "readonly s Version", "readonly t PendingRecords"})
    EXPECT_NE(gdbus_view.output.find(member), std::string::npos) << member << "\n"
                                                                 << gdbus_view.output;
}

TEST_F(BusTest, EveryPropertyReads) {
  start_on_bus();
  expect_connection();
  EXPECT_TRUE(wait_for_property("State", "s \"online\"", 5s)) << property("State");
  EXPECT_EQ(property("DeviceId"), "s \"test-device\"");
  EXPECT_EQ(property("ServerUrl"),
            "s \"" + server_->url() + "/api/devices/v1/deviceconnect/connect\"");
  EXPECT_EQ(property("Version"), std::string("s \"") + TETHER_VERSION + "\"");
  EXPECT_EQ(property("PendingRecords"), "t 0");

  auto all = gdbus({"call", "--session", "--dest", "io.tether.Gateway1", "--object-path",
                    "/io/tether/Gateway1", "--method", "org.freedesktop.DBus.Properties.GetAll",
                    "io.tether.Gateway1"});
  ASSERT_EQ(all.exit_status, 0) << all.output;
  for (const char* entry : {"'State': <'online'>", "'DeviceId': <'test-device'>",
                            "'PendingRecords': <uint64 0>", "'Version': <'"})
    EXPECT_NE(all.output.find(entry), std::string::npos) << entry << "\n" << all.output;
}

TEST_F(BusTest, StateChangesEmitPropertiesChanged) {
  start_on_bus();
  expect_connection();
  ASSERT_TRUE(wait_for_property("State", "s \"online\"", 5s));
  auto monitor = DaemonProcess::start(
      "/usr/bin/gdbus", {"monitor", "--session", "--dest", "io.tether.Gateway1", "--object-path",
                         "/io/tether/Gateway1"});
  ASSERT_TRUE(monitor.ok()) << monitor.error().message();
  ASSERT_TRUE((*monitor)->wait_for_output("owned by", 5s)) << (*monitor)->output();

  server_->stop();  // the backend goes away: online → offline → connecting → ...
  EXPECT_TRUE((*monitor)->wait_for_output("{'State': <'offline'>}", 5s)) << (*monitor)->output();
  EXPECT_TRUE((*monitor)->wait_for_output("{'State': <'connecting'>}", 5s)) << (*monitor)->output();
  const auto before_restart = (*monitor)->output().size();
  ASSERT_TRUE(server_->start().ok());
  expect_connection();
  EXPECT_TRUE((*monitor)->wait_for_output("{'State': <'online'>}", 5s, before_restart))
      << (*monitor)->output();
  EXPECT_NE((*monitor)->output().find("io.tether.Gateway1"), std::string::npos);
}

TEST_F(BusTest, ReconnectDialsAgainAtOnce) {
  start_on_bus({"--server.backoff-max=30"});
  expect_connection();
  ASSERT_TRUE(wait_for_property("State", "s \"online\"", 5s));
  const int before = server_->connection_count();
  auto call = busctl(gateway_call("call", {"io.tether.Gateway1", "Reconnect"}));
  EXPECT_EQ(call.exit_status, 0) << call.output;
  // The old link ends and a new one arrives without the backoff wait.
  EXPECT_TRUE(server_->wait_for_close(3s).has_value());
  expect_connection(3s);
  EXPECT_EQ(server_->connection_count(), before + 1);
  EXPECT_TRUE(wait_for_property("State", "s \"online\"", 5s));

  // gdbus as the caller, too.
  auto again = gdbus({"call", "--session", "--dest", "io.tether.Gateway1", "--object-path",
                      "/io/tether/Gateway1", "--method", "io.tether.Gateway1.Reconnect"});
  EXPECT_EQ(again.exit_status, 0) << again.output;
  expect_connection(3s);
  EXPECT_EQ(server_->connection_count(), before + 2);
}

TEST_F(BusTest, BadCallsGetClearErrorsAndTheDaemonLivesOn) {
  DaemonProcess& daemon = start_on_bus();
  expect_connection();

  auto unknown = busctl(gateway_call("call", {"io.tether.Gateway1", "Explode"}));
  EXPECT_NE(unknown.exit_status, 0);
  EXPECT_NE(unknown.output.find("Unknown method"), std::string::npos) << unknown.output;

  auto unknown_interface = busctl(gateway_call("call", {"io.tether.Nothing1", "Reconnect"}));
  EXPECT_NE(unknown_interface.exit_status, 0);
  EXPECT_NE(unknown_interface.output.find("Unknown"), std::string::npos)
      << unknown_interface.output;

  // Arguments where none are expected, of several types, and a large one.
  for (const std::vector<std::string>& garbage : {std::vector<std::string>{"s", "garbage"},
                                                  {"i", "42"},
                                                  {"ay", "3", "1", "2", "3"},
                                                  {"a{sv}", "1", "k", "s", "v"},
                                                  {"s", std::string(100000, 'x')}}) {
    std::vector<std::string> rest = {"io.tether.Gateway1", "Reconnect"};
    rest.insert(rest.end(), garbage.begin(), garbage.end());
    auto wrong = busctl(gateway_call("call", rest));
    EXPECT_NE(wrong.exit_status, 0) << garbage.front();
    EXPECT_NE(wrong.output.find("Invalid arguments"), std::string::npos) << wrong.output;
  }

  auto no_such_property = busctl(gateway_call("get-property", {"io.tether.Gateway1", "Color"}));
  EXPECT_NE(no_such_property.exit_status, 0);
  EXPECT_NE(no_such_property.output.find("or property Color"), std::string::npos)
      << no_such_property.output;

  auto write_read_only =
      busctl(gateway_call("set-property", {"io.tether.Gateway1", "State", "s", "online"}));
  EXPECT_NE(write_read_only.exit_status, 0);
  EXPECT_NE(write_read_only.output.find("not writable"), std::string::npos)
      << write_read_only.output;

  // Get with the wrong types for its own arguments.
  auto wrong_get = gdbus({"call", "--session", "--dest", "io.tether.Gateway1", "--object-path",
                          "/io/tether/Gateway1", "--method", "org.freedesktop.DBus.Properties.Get",
                          "42", "true"});
  EXPECT_NE(wrong_get.exit_status, 0) << wrong_get.output;

  EXPECT_TRUE(daemon.running());
  EXPECT_TRUE(wait_for_property("State", "s \"online\"", 5s));
  EXPECT_EQ(property("DeviceId"), "s \"test-device\"");
}

TEST_F(BusTest, BusNoneExposesNothing) {
  DaemonProcess& daemon = start_daemon({"--dbus.bus=none"});
  expect_connection();
  auto names = busctl({"list", "--no-pager"});
  ASSERT_EQ(names.exit_status, 0) << names.output;
  EXPECT_EQ(names.output.find("io.tether.Gateway1"), std::string::npos) << names.output;
  // tetherd made no connection to the bus at all: only busctl itself and the bus
  // are on it.
  EXPECT_EQ(daemon.count_in_output("owning io.tether.Gateway1"), 0u);
  auto status = tetherctl({"--bus", "session", "status"});
  EXPECT_EQ(status.exit_status, 1) << status.output;
}

TEST_F(BusTest, SecondDaemonCannotTakeTheNameAndExits1) {
  start_on_bus();
  expect_connection();
  auto args = fast_args(server_->url());
  std::erase(args, std::string("--dbus.bus=none"));
  args.push_back("--dbus.bus=session");
  auto second = DaemonProcess::start(TETHERD_PATH, args);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->wait_for_exit(5s), 1) << (*second)->output();
  // The exit can be seen before the last of its output is read from the pipe.
  EXPECT_TRUE((*second)->wait_for_output("another process owns the name io.tether.Gateway1", 2s))
      << (*second)->output();
  EXPECT_TRUE(daemon_->running());
}

TEST_F(BusTest, ReadyOnlyOnceTheNameIsOwned) {
  // A first tetherd holds the name: a second one must never say READY, and exits 1.
  start_on_bus();
  expect_connection();
  {
    NotifySocket notify((dir_.path() / "notify-blocked.sock").string());
    ASSERT_TRUE(notify.bound());
    auto args = fast_args(server_->url());
    std::erase(args, std::string("--dbus.bus=none"));
    args.push_back("--dbus.bus=session");
    auto blocked = DaemonProcess::start(
        TETHERD_PATH, args, {"NOTIFY_SOCKET=" + (dir_.path() / "notify-blocked.sock").string()});
    ASSERT_TRUE(blocked.ok());
    EXPECT_EQ((*blocked)->wait_for_exit(5s), 1) << (*blocked)->output();
    EXPECT_FALSE(notify.wait_for("READY=1", 300ms)) << notify.received();
  }
  // Once the name is free, READY comes, and by then the name is on the bus.
  daemon_->send_signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_for_exit(5s), 0);
  NotifySocket notify((dir_.path() / "notify.sock").string());
  ASSERT_TRUE(notify.bound());
  auto args = fast_args(server_->url());
  std::erase(args, std::string("--dbus.bus=none"));
  args.push_back("--dbus.bus=session");
  auto ready = DaemonProcess::start(TETHERD_PATH, args,
                                    {"NOTIFY_SOCKET=" + (dir_.path() / "notify.sock").string()});
  ASSERT_TRUE(ready.ok());
  ASSERT_TRUE(notify.wait_for("READY=1", 5s)) << notify.received() << (*ready)->output();
  auto owner = busctl({"status", "io.tether.Gateway1", "--no-pager"});
  EXPECT_EQ(owner.exit_status, 0) << owner.output;
  EXPECT_NE((*ready)->output().find("connecting to"), std::string::npos);
}

}  // namespace
}  // namespace tether::test
