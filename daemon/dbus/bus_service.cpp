#include "daemon/dbus/bus_service.hpp"

#include <poll.h>

#include <chrono>
#include <exception>
#include <memory>

namespace tether::daemon::dbus {

namespace {
constexpr const char* kBusDaemonName = "org.freedesktop.DBus";
constexpr const char* kBusDaemonPath = "/org/freedesktop/DBus";
// RequestName flag and replies (D-Bus specification, "org.freedesktop.DBus.RequestName").
constexpr std::uint32_t kDoNotQueue = 4;
constexpr std::uint32_t kPrimaryOwner = 1;
constexpr std::uint32_t kAlreadyOwner = 4;

const char* bus_label(BusKind bus) {
  return bus == BusKind::kSystem ? "system" : "session";
}
}  // namespace

class BusService::Impl {
 public:
  Impl(EventLoop& loop, std::unique_ptr<sdbus::IConnection> connection, const log::Logger& logger)
      : loop_(loop), log_(logger), connection_(std::move(connection)), timer_(loop) {}

  // After readiness, a timer or a message sent: process until sd-bus has nothing
  // left, then wait for what it asks for next (the events may include POLLOUT, and
  // the timeout moves with every call in flight).
  void pump() {
    if (lost_) return;
    if (pumping_) return;  // the outer pump re-reads the poll data when it is done
    pumping_ = true;
    try {
      while (connection_->processPendingRequest()) {
      }
      arm(connection_->getEventLoopPollData());
    } catch (const sdbus::Error& e) {
      lose(e.getName() + ": " + e.getMessage());
    } catch (const std::exception& e) {
      // A method handler that threw something else; sd-bus' state is unknown now.
      lose(e.what());
    }
    pumping_ = false;
  }

  // A message was sent outside a pump. Re-arming right here could process an
  // incoming call (say Reconnect) in the middle of whatever sent the message,
  // so the pump runs from the loop, once however many messages were sent.
  void pump_soon() {
    if (lost_ || pump_posted_ || pumping_) return;
    pump_posted_ = true;
    std::weak_ptr<bool> alive = alive_;
    loop_.post([this, alive] {
      if (alive.expired()) return;
      pump_posted_ = false;
      pump();
    });
  }

  void arm(const sdbus::IConnection::PollData& data) {
    if (!watch_) {
      auto watch = FdWatch::create(loop_, data.fd,
                                   {.on_readable = [this] { pump(); },
                                    .on_writable = [this] { pump(); },
                                    .on_hangup =
                                        [this] {
                                          pump();
                                          lose("the bus closed the connection");
                                        }});
      if (!watch) {
        lose(watch.error().message());
        return;
      }
      watch_ = std::move(watch).value();
    }
    watch_->want_writable((data.events & POLLOUT) != 0);
    const auto relative = data.getRelativeTimeout();
    if (!relative) {
      timer_.cancel();
      return;
    }
    // Rounded up: waking a little late is harmless, waking early spins.
    timer_.start(std::chrono::ceil<std::chrono::milliseconds>(*relative), [this] { pump(); });
  }

  void lose(const std::string& why) {
    if (lost_) return;
    lost_ = true;
    name_owned_ = false;
    timer_.cancel();
    watch_.reset();
    log_.error("lost the D-Bus connection (" + why + "); the local API is gone until restart");
  }

  EventLoop& loop_;
  const log::Logger& log_;
  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<FdWatch> watch_;
  Timer timer_;
  std::unique_ptr<sdbus::IProxy> bus_daemon_;
  bool pumping_ = false;
  bool pump_posted_ = false;
  bool lost_ = false;
  bool name_owned_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

Result<std::unique_ptr<BusService>> BusService::open(EventLoop& loop, BusKind bus,
                                                     const log::Logger& logger) {
  // Opening connects and writes the authentication and Hello; it runs once, before
  // the loop does. Everything after it is asynchronous.
  try {
    auto connection = bus == BusKind::kSystem ? sdbus::createSystemBusConnection()
                                              : sdbus::createSessionBusConnection();
    auto impl = std::make_unique<Impl>(loop, std::move(connection), logger);
    impl->bus_daemon_ = sdbus::createProxy(*impl->connection_, kBusDaemonName, kBusDaemonPath);
    std::unique_ptr<BusService> service(new BusService(std::move(impl)));
    service->impl_->pump();
    if (service->impl_->lost_)
      return Error(ErrorCode::kUnavailable,
                   std::string("dbus.bus: the ") + bus_label(bus) + " bus closed the connection");
    return service;
  } catch (const sdbus::Error& e) {
    return Error(ErrorCode::kUnavailable, std::string("dbus.bus: cannot connect to the ") +
                                              bus_label(bus) + " bus: " + e.getMessage());
  }
}

BusService::BusService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BusService::~BusService() {
  *impl_->alive_ = false;
}

sdbus::IConnection& BusService::connection() {
  return *impl_->connection_;
}

bool BusService::name_owned() const {
  return impl_->name_owned_;
}

void BusService::own_name(std::function<void(Status)> done) {
  Impl& impl = *impl_;
  // Shared: the reply handler keeps it, and a failure to send needs it here too.
  auto finish = std::make_shared<std::function<void(Status)>>(std::move(done));
  auto on_reply = [&impl, finish](const sdbus::Error* error, std::uint32_t reply) {
    if (error != nullptr) {
      (*finish)(Error(ErrorCode::kAccessDenied, std::string("the bus refused the name ") +
                                                    kBusName + ": " + error->getMessage()));
      return;
    }
    if (reply != kPrimaryOwner && reply != kAlreadyOwner) {
      (*finish)(Error(ErrorCode::kBusy,
                      std::string("another process owns the name ") + kBusName + " on the bus"));
      return;
    }
    impl.name_owned_ = true;
    (*finish)(Status::Ok());
  };
  const Status sent = send([&] {
    impl.bus_daemon_->callMethodAsync("RequestName")
        .onInterface(kBusDaemonName)
        .withArguments(std::string(kBusName), kDoNotQueue)
        .uponReplyInvoke(on_reply);
  });
  if (!sent) (*finish)(sent.error().wrap(std::string("asking the bus for ") + kBusName));
}

Status BusService::send(const std::function<void()>& emit) {
  if (impl_->lost_) return Error(ErrorCode::kUnavailable, "the D-Bus connection is gone");
  try {
    emit();
  } catch (const sdbus::Error& e) {
    return Error(ErrorCode::kIo, e.getName() + ": " + e.getMessage());
  }
  impl_->pump_soon();
  return Status::Ok();
}

void BusService::flush() {
  impl_->pump_soon();
}

sdbus::Error BusService::to_dbus_error(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kBusy:
    case ErrorCode::kStorageFailure:
    case ErrorCode::kAccessDenied:
      return sdbus::Error(
          std::string(tether::dbus::kErrorPrefix) + std::string(error_code_name(error.code())),
          error.message());
    case ErrorCode::kIo:
    case ErrorCode::kProtocol:
    case ErrorCode::kUnavailable:
    case ErrorCode::kInternal:
      break;
  }
  return sdbus::Error(kFallbackError, error.message());
}

std::string BusService::caller(const sdbus::IObject& object) {
  const sdbus::Message* message = object.getCurrentlyProcessedMessage();
  if (message == nullptr) return {};
  return message->getSender();
}

}  // namespace tether::daemon::dbus
