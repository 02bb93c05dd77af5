#include "tests/integration/dbus/bus_fixture.hpp"

#include <thread>

namespace tether::test {

void BusTest::SetUp() {
  DaemonTest::SetUp();
  auto bus = PrivateBus::start();
  ASSERT_TRUE(bus.ok()) << bus.error().message();
  bus_ = std::move(bus).value();
  bus_->export_address();
}

void BusTest::TearDown() {
  DaemonTest::TearDown();
  bus_.reset();
}

DaemonProcess& BusTest::start_on_bus(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--dbus.bus=session"};
  args.insert(args.end(), extra.begin(), extra.end());
  DaemonProcess& daemon = start_daemon(args);
  EXPECT_TRUE(daemon.wait_for_output("owning io.tether.Gateway1 on the session bus", 5s))
      << daemon.output();
  return daemon;
}

CompletedProcess BusTest::run(const std::string& binary, const std::vector<std::string>& args) {
  auto done = bus_->run(binary, args);
  EXPECT_TRUE(done.ok()) << done.error().message();
  return done.ok() ? *done : CompletedProcess{};
}

CompletedProcess BusTest::busctl(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--user"};
  all.insert(all.end(), args.begin(), args.end());
  return run("/usr/bin/busctl", all);
}

CompletedProcess BusTest::gdbus(const std::vector<std::string>& args) {
  return run("/usr/bin/gdbus", args);
}

CompletedProcess BusTest::tetherctl(const std::vector<std::string>& args) {
  return run(TETHERCTL_PATH, args);
}

std::string BusTest::property(const std::string& name) {
  auto got = busctl(
      {"get-property", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Gateway1", name});
  EXPECT_EQ(got.exit_status, 0) << got.output;
  std::string value = got.output;
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

bool BusTest::wait_for_property(const std::string& name, const std::string& value,
                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (property(name) == value) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace tether::test
