#include "plugins/command/commands_service.hpp"

#include <utility>

#include "dbus/variant_msgpack.hpp"
#include "protocol/codec.hpp"

namespace tether::plugins::command {
namespace {

constexpr char kNameOwnerChangedMatch[] =
    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
    "interface='org.freedesktop.DBus',member='NameOwnerChanged'";

// A ret bigger than this (encoded) is refused: it is stored and sent as one message.
constexpr std::size_t kMaxRetBytes = 65536;

}  // namespace

Result<std::unique_ptr<CommandsService>> CommandsService::create(daemon::dbus::BusService& bus,
                                                                 CommandBroker& broker) {
  std::unique_ptr<CommandsService> service;
  try {
    service.reset(new CommandsService(bus, broker));
    CommandsService* self = service.get();
    service->match_ = bus.connection().addMatch(
        kNameOwnerChangedMatch,
        [self](sdbus::Message& message) { self->on_name_owner_changed(message); });
  } catch (const sdbus::Error& error) {
    return Error(ErrorCode::kUnavailable,
                 "cannot serve io.tether.Commands1: " + error.getMessage());
  }
  broker.set_app_channel(service.get());
  return service;
}

CommandsService::CommandsService(daemon::dbus::BusService& bus, CommandBroker& broker)
    : AdaptorInterfaces(bus.connection(), daemon::dbus::BusService::kObjectPath),
      bus_(bus),
      broker_(broker) {
  registerAdaptor();
}

CommandsService::~CommandsService() {
  *alive_ = false;
  broker_.set_app_channel(nullptr);
  match_.reset();
  unregisterAdaptor();
}

void CommandsService::on_name_owner_changed(sdbus::Message& message) {
  try {
    std::string name;
    std::string old_owner;
    std::string new_owner;
    message >> name >> old_owner >> new_owner;
    // A unique name (":1.42") that lost its owner: that connection left the bus.
    if (!name.empty() && name[0] == ':' && new_owner.empty()) broker_.holder_left(name);
  } catch (const sdbus::Error&) {
    // A malformed NameOwnerChanged cannot come from the bus itself; ignore it.
  }
}

void CommandsService::Register(const std::string& target) {
  std::string caller = daemon::dbus::BusService::caller(getObject());
  if (Status status = broker_.register_target(caller, target); !status) {
    throw daemon::dbus::BusService::to_dbus_error(status.error());
  }
}

void CommandsService::Unregister(const std::string& target) {
  std::string caller = daemon::dbus::BusService::caller(getObject());
  if (Status status = broker_.unregister_target(caller, target); !status) {
    throw daemon::dbus::BusService::to_dbus_error(status.error());
  }
}

void CommandsService::Reply(sdbus::Result<>&& result, std::string id, bool ok,
                            std::map<std::string, sdbus::Variant> ret, std::string err) {
  std::string caller = daemon::dbus::BusService::caller(getObject());
  Result<protocol::Map> mapped = tether::dbus::variants_to_map(ret, "ret");
  if (!mapped.ok()) {
    (void)bus_.reply_error(result, mapped.error().wrap("ret"));
    return;
  }
  if (protocol::encode_value(protocol::Value(mapped.value())).size() > kMaxRetBytes) {
    (void)bus_.reply_error(result,
                           Error(ErrorCode::kInvalidArgument,
                                 "ret is larger than " + std::to_string(kMaxRetBytes) + " bytes"));
    return;
  }
  auto pending = std::make_shared<sdbus::Result<>>(std::move(result));
  std::weak_ptr<bool> alive = alive_;
  Status accepted = broker_.reply(caller, id, ok, std::move(mapped).value(), std::move(err),
                                  [this, alive, pending](const Status& stored) {
                                    if (alive.expired()) return;
                                    if (stored) {
                                      (void)bus_.reply(*pending);
                                    } else {
                                      (void)bus_.reply_error(*pending, stored.error());
                                    }
                                  });
  if (!accepted) (void)bus_.reply_error(*pending, accepted.error());
}

std::vector<std::string> CommandsService::Targets() {
  return broker_.targets();
}

Status CommandsService::deliver(const std::string& holder, const std::string& id,
                                const std::string& target, const std::string& action,
                                const protocol::Map& args) {
  return bus_.send([&] {
    sdbus::Signal signal = getObject().createSignal(INTERFACE_NAME, "Request");
    // Unicast: only the holder's connection receives it, however others match.
    signal.setDestination(holder);
    signal << id << target << action << tether::dbus::map_to_variants(args);
    getObject().emitSignal(signal);
  });
}

void CommandsService::ended(const std::string& holder, const std::string& id,
                            const std::string& status) {
  (void)bus_.send([&] {
    sdbus::Signal signal = getObject().createSignal(INTERFACE_NAME, "Ended");
    signal.setDestination(holder);
    signal << id << status;
    getObject().emitSignal(signal);
  });
}

void CommandsService::targets_changed() {
  (void)bus_.send([&] { getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"Targets"}); });
}

}  // namespace tether::plugins::command
