#include "tests/support/private_bus.hpp"

#include <cstdlib>

namespace tether::test {

namespace {
// A session bus that lets anyone own and call anything: the tests check tetherd's
// behaviour, not a policy (the shipped policy file is tested by packaging).
std::string bus_config(const std::string& socket) {
  return R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=)" +
         socket + R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)";
}
}  // namespace

Result<std::unique_ptr<PrivateBus>> PrivateBus::start() {
  std::unique_ptr<PrivateBus> bus(new PrivateBus());
  const auto config = bus->dir_.write("bus.conf", bus_config((bus->dir_.path() / "bus").string()));
  auto daemon = DaemonProcess::start(
      "/usr/bin/dbus-daemon", {"--config-file=" + config.string(), "--nofork", "--print-address"});
  if (!daemon) return daemon.error().wrap("starting dbus-daemon");
  bus->daemon_ = std::move(daemon).value();
  // The address is printed once the socket listens.
  const auto at = bus->daemon_->wait_for_output("unix:", std::chrono::seconds(10));
  const auto end =
      at ? bus->daemon_->wait_for_output("\n", std::chrono::seconds(10), *at) : std::nullopt;
  if (!at || !end) return Error("dbus-daemon printed no address: " + bus->daemon_->output());
  const std::string output = bus->daemon_->output();
  const std::size_t start = *at - 5;
  bus->address_ = output.substr(start, *end - 1 - start);
  return bus;
}

PrivateBus::~PrivateBus() {
  daemon_.reset();  // SIGKILL and reap
}

void PrivateBus::export_address() const {
  ::setenv("DBUS_SESSION_BUS_ADDRESS", address_.c_str(), 1);
}

Result<CompletedProcess> PrivateBus::run(const std::string& binary,
                                         const std::vector<std::string>& args,
                                         std::chrono::milliseconds timeout) const {
  auto process = DaemonProcess::start(binary, args, {"DBUS_SESSION_BUS_ADDRESS=" + address_});
  if (!process) return process.error();
  auto status = (*process)->wait_for_exit(timeout);
  if (!status) return Error("timed out: " + binary + "\n" + (*process)->output());
  // The output pipe may still hold the last bytes; the reader ends at EOF.
  (*process)->wait_for_output("\x01never\x01", std::chrono::milliseconds(2000));
  return CompletedProcess{*status, (*process)->output()};
}

}  // namespace tether::test
