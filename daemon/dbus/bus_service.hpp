// tetherd's D-Bus connection (sdbus-c++ 1.2), pumped from the daemon's own event
// loop: there is no D-Bus thread and no synchronous call from the loop (docs/dbus.md).
//
// Plugins serve their interfaces on the one object kObjectPath through this
// service: they build their generated adaptor on connection(), reply to
// asynchronous methods through reply()/reply_error(), and emit signals through
// send(), which all make sure the bytes leave without waiting for the next event.
//
// Threading: the loop thread only, like everything in the daemon.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <functional>
#include <memory>
#include <string>

#include "daemon/log/logger.hpp"
#include "daemon/loop/event_loop.hpp"
#include "daemon/options/daemon_options.hpp"
#include "dbus/interfaces/names.hpp"
#include "protocol/result.hpp"

namespace tether::daemon::dbus {

class BusService {
 public:
  // The one object every tether interface lives on, and the name tetherd owns.
  static constexpr const char* kObjectPath = tether::dbus::kObjectPath;
  static constexpr const char* kBusName = tether::dbus::kBusName;
  // The D-Bus error for failures the contract has no name for (I/O, protocol,
  // unavailable, internal): the standard generic failure, with the sentence.
  static constexpr const char* kFallbackError = "org.freedesktop.DBus.Error.Failed";

  // Opens the system or the session bus (DBUS_SESSION_BUS_ADDRESS); `bus` must not
  // be kNone (with dbus.bus = none, main builds no BusService at all). Fails with
  // a sentence naming the bus when it cannot be reached.
  static Result<std::unique_ptr<BusService>> open(EventLoop& loop, BusKind bus,
                                                  const log::Logger& logger);
  ~BusService();
  BusService(const BusService&) = delete;
  BusService& operator=(const BusService&) = delete;

  // For building adaptors and proxies:
  //   sdbus::AdaptorInterfaces<io::tether::Telemetry1_adaptor>(bus.connection(), kObjectPath)
  sdbus::IConnection& connection();

  // Asks the bus, asynchronously, for kBusName; `done` runs on the loop with the
  // outcome (an error when another process owns the name or the bus refuses).
  // Register every adaptor first, so that the name appears with its interfaces.
  void own_name(std::function<void(Status)> done);
  bool name_owned() const;

  // Runs `emit` (a signal, a PropertiesChanged, a reply), converting an sdbus-c++
  // exception into an Error, then makes sure the message is flushed.
  Status send(const std::function<void()>& emit);

  // Completes an asynchronous method (one annotated Method.Async in the XML).
  template <typename... Results>
  Status reply(const sdbus::Result<Results...>& pending, const Results&... results) {
    return send([&] { pending.returnResults(results...); });
  }
  Status reply_error(const auto& pending, const Error& error) {
    return send([&] { pending.returnError(to_dbus_error(error)); });
  }

  // io.tether.Error.<Name> for the five kinds the contract names (InvalidArgument,
  // NotFound, Busy, StorageFailure, AccessDenied), kFallbackError for the others;
  // the message is the error's sentence. A method throws the result to fail:
  //   throw BusService::to_dbus_error(error);
  static sdbus::Error to_dbus_error(const Error& error);

  // The unique bus name (":1.42") of whoever called the method `object` is
  // processing right now; empty outside a method call.
  static std::string caller(const sdbus::IObject& object);

  // Processes whatever is pending and re-arms the fd watch and the timer. Called
  // by the service itself; plugins only need it after talking to connection()
  // directly, outside a D-Bus callback and without send().
  void flush();

  class Impl;

 private:
  explicit BusService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::daemon::dbus
