// io.tether.Commands1 (spec/dbus.md) on the daemon's bus: apps register targets,
// receive each request as a Request signal sent to them alone (its destination is
// the holder's unique name), and answer with Reply. The logic lives in
// CommandBroker; this class maps D-Bus calls and errors onto it and watches the
// bus for holders that leave (NameOwnerChanged for their unique name).
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/dbus/bus_service.hpp"
#include "dbus/generated/commands1_adaptor.h"
#include "plugins/command/command_broker.hpp"

namespace tether::plugins::command {

class CommandsService final : public sdbus::AdaptorInterfaces<io::tether::Commands1_adaptor>,
                              public AppChannel {
 public:
  // Registers the adaptor on the shared object and subscribes to NameOwnerChanged.
  // The subscription is an AddMatch that sdbus-c++ 1.2 makes synchronously, so build
  // this before the loop runs (as main builds plugins). Fails when the bus refuses it.
  static Result<std::unique_ptr<CommandsService>> create(daemon::dbus::BusService& bus,
                                                         CommandBroker& broker);
  ~CommandsService() override;
  CommandsService(const CommandsService&) = delete;
  CommandsService& operator=(const CommandsService&) = delete;

  // AppChannel
  Status deliver(const std::string& holder, const std::string& id, const std::string& target,
                 const std::string& action, const protocol::Map& args) override;
  void ended(const std::string& holder, const std::string& id, const std::string& status) override;
  void targets_changed() override;

 private:
  CommandsService(daemon::dbus::BusService& bus, CommandBroker& broker);

  void Register(const std::string& target) override;
  void Unregister(const std::string& target) override;
  void Reply(sdbus::Result<>&& result, std::string id, bool ok,
             std::map<std::string, sdbus::Variant> ret, std::string err) override;
  std::vector<std::string> Targets() override;

  void on_name_owner_changed(sdbus::Message& message);

  daemon::dbus::BusService& bus_;
  CommandBroker& broker_;
  sdbus::Slot match_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tether::plugins::command
