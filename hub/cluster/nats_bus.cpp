#include "hub/cluster/nats_bus.hpp"

#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <map>
#include <utility>

#include "hub/cluster/bus_envelope.hpp"

namespace tether::hub::cluster {

namespace {

// How long a lost connection waits between attempts. Short: a restarted server
// on the same host is back within a second, and an attempt costs one connect().
constexpr std::int64_t kReconnectWaitMs = 250;
constexpr auto kCloseWait = std::chrono::seconds(5);
constexpr std::int64_t kFlushAtCloseMs = 1000;
constexpr auto kTick = std::chrono::seconds(1);

// libnats starts threads (its timers, flusher, reader, reconnector, each async
// subscription's dispatcher) that inherit the creating thread's signal mask. The
// hub takes SIGTERM/SIGINT through a signalfd, which works only if no thread
// leaves them unblocked: every libnats call that may start a thread runs inside
// one of these.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t saved_{};
};

Error nats_error(const std::string& what, natsStatus status) {
  return Error(ErrorCode::kUnavailable, what + ": " + natsStatus_GetText(status));
}

void post(NatsBus::Shared& shared, std::function<void(NatsBus&)> task, bool urgent = false) {
  std::weak_ptr<bool> alive = shared.alive;
  NatsBus* bus = shared.bus;
  LoopInbox::Task guarded = [alive, bus, task = std::move(task)] {
    if (auto still = alive.lock(); still && *still) task(*bus);
  };
  if (urgent) {
    shared.inbox->post_urgent(std::move(guarded));
  } else {
    shared.inbox->post(std::move(guarded));
  }
}

void on_message(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* msg, void* closure) {
  auto& shared = *static_cast<NatsBus::Shared*>(closure);
  std::string subject = natsMsg_GetSubject(msg);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg));
  const auto size = static_cast<std::size_t>(natsMsg_GetDataLength(msg));
  protocol::Bytes data(bytes, bytes + size);
  natsMsg_Destroy(msg);
  const bool urgent = bus_subjects::urgent(subject);
  post(
      shared,
      [subject = std::move(subject), data = std::move(data)](NatsBus& bus) {
        bus.delivered(subject, data);
      },
      urgent);
}

void on_subscription_done(void* closure) {
  auto& shared = *static_cast<NatsBus::Shared*>(closure);
  std::lock_guard lock(shared.mutex);
  --shared.open_subscriptions;
  shared.changed.notify_all();
}

void on_connected(natsConnection* /*nc*/, void* closure) {
  post(*static_cast<NatsBus::Shared*>(closure), [](NatsBus& bus) { bus.connected(false); });
}

void on_reconnected(natsConnection* /*nc*/, void* closure) {
  post(*static_cast<NatsBus::Shared*>(closure), [](NatsBus& bus) { bus.connected(true); });
}

void on_disconnected(natsConnection* /*nc*/, void* closure) {
  post(*static_cast<NatsBus::Shared*>(closure), [](NatsBus& bus) { bus.disconnected(); });
}

void on_closed(natsConnection* /*nc*/, void* closure) {
  auto& shared = *static_cast<NatsBus::Shared*>(closure);
  std::lock_guard lock(shared.mutex);
  shared.closed = true;
  shared.changed.notify_all();
}

}  // namespace

struct NatsBus::Handles {
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  std::map<std::string, natsSubscription*, std::less<>> subscriptions;
};

NatsBus::NatsBus(LoopInbox& inbox, const Logger& log)
    : log_(log), handles_(std::make_unique<Handles>()) {
  shared_.inbox = &inbox;
  shared_.bus = this;
  shared_.alive = std::make_shared<bool>(true);
}

Result<std::unique_ptr<NatsBus>> NatsBus::connect(const std::string& url, LoopInbox& inbox,
                                                  const Logger& log) {
  std::unique_ptr<NatsBus> bus(new NatsBus(inbox, log));
  const SignalsBlocked blocked;
  Handles& h = *bus->handles_;
  void* closure = &bus->shared_;
  natsStatus s = natsOptions_Create(&h.options);
  if (s == NATS_OK) s = natsOptions_SetURL(h.options, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(h.options, "tether-hub");
  // A hub hears its own presence news otherwise.
  if (s == NATS_OK) s = natsOptions_SetNoEcho(h.options, true);
  // One subscription per device whose link is here: with a dispatcher thread each
  // (libnats's default) 10 000 devices would cost 10 000 threads. The library's
  // pool keeps each subscription's order.
  if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(h.options, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(h.options, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(h.options, kReconnectWaitMs);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(h.options, true, on_connected, closure);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(h.options, on_reconnected, closure);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(h.options, on_disconnected, closure);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(h.options, on_closed, closure);
  if (s != NATS_OK) return nats_error("bus.url " + url, s);
  bus->ticker_ = std::thread([&shared = bus->shared_] {
    std::unique_lock lock(shared.mutex);
    while (!shared.changed.wait_for(lock, kTick, [&] { return shared.stopping; })) {
      post(shared, [](NatsBus& b) { b.tick(); });
    }
  });
  s = natsConnection_Connect(&h.connection, h.options);
  if (s == NATS_OK) {
    // Connected at once: on_connected is only for a connection that came late.
    post(bus->shared_, [](NatsBus& b) { b.connected(false); });
  } else if (s != NATS_NOT_YET_CONNECTED) {
    return nats_error("bus.url " + url, s);
  } else {
    log.warn("bus: " + url + " is not reachable yet; retrying in the background");
  }
  return bus;
}

NatsBus::~NatsBus() {
  *shared_.alive = false;
  if (ticker_.joinable()) {
    {
      std::lock_guard lock(shared_.mutex);
      shared_.stopping = true;
    }
    shared_.changed.notify_all();
    ticker_.join();
  }
  Handles& h = *handles_;
  for (auto& [subject, sub] : h.subscriptions) {
    (void)natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  if (h.connection != nullptr) {
    // What was published last (a stopping hub's offline news) goes out first.
    (void)natsConnection_FlushTimeout(h.connection, kFlushAtCloseMs);
    natsConnection_Close(h.connection);
    // No callback may run once this object is gone: wait for the subscriptions'
    // completions and the closed callback (the last one libnats makes).
    std::unique_lock lock(shared_.mutex);
    if (!shared_.changed.wait_for(lock, kCloseWait, [this] {
          return shared_.closed && shared_.open_subscriptions == 0;
        })) {
      log_.warn("bus: libnats did not finish closing in time");
    }
    lock.unlock();
    natsConnection_Destroy(h.connection);
  }
  natsOptions_Destroy(h.options);
}

Status NatsBus::publish(const std::string& subject, const protocol::Bytes& data) {
  const natsStatus s = natsConnection_Publish(handles_->connection, subject.c_str(), data.data(),
                                              static_cast<int>(data.size()));
  if (s == NATS_MAX_PAYLOAD) {
    return Error(ErrorCode::kInvalidArgument,
                 std::to_string(data.size()) + " bytes is over the NATS server's max_payload");
  }
  if (s != NATS_OK) return nats_error("publishing", s);
  return Status::Ok();
}

Status NatsBus::subscribe(const std::string& subject) {
  Handles& h = *handles_;
  if (h.subscriptions.find(subject) != h.subscriptions.end()) return Status::Ok();
  natsSubscription* sub = nullptr;
  const SignalsBlocked blocked;
  natsStatus s =
      natsConnection_Subscribe(&sub, h.connection, subject.c_str(), on_message, &shared_);
  if (s != NATS_OK) return nats_error("subscribing to " + subject, s);
  {
    std::lock_guard lock(shared_.mutex);
    ++shared_.open_subscriptions;
  }
  s = natsSubscription_SetOnCompleteCB(sub, on_subscription_done, &shared_);
  if (s != NATS_OK) {
    // Closed already (the connection went): nothing will complete it.
    std::lock_guard lock(shared_.mutex);
    --shared_.open_subscriptions;
  }
  h.subscriptions.emplace(subject, sub);
  return Status::Ok();
}

void NatsBus::unsubscribe(const std::string& subject) {
  Handles& h = *handles_;
  auto it = h.subscriptions.find(subject);
  if (it == h.subscriptions.end()) return;
  (void)natsSubscription_Unsubscribe(it->second);
  natsSubscription_Destroy(it->second);
  h.subscriptions.erase(it);
}

void NatsBus::delivered(const std::string& subject, const protocol::Bytes& data) {
  for (BusHandler* h : handlers_) h->bus_message(subject, data);
}

void NatsBus::connected(bool again) {
  log_.info(again ? "bus: reconnected" : "bus: connected");
  for (BusHandler* h : handlers_) h->bus_connected();
}

void NatsBus::disconnected() {
  log_.warn("bus: connection lost; reconnecting");
  for (BusHandler* h : handlers_) h->bus_disconnected();
}

void NatsBus::tick() {
  for (BusHandler* h : handlers_) h->bus_tick();
}

}  // namespace tether::hub::cluster
