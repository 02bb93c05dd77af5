// The link's state as everyone above the transport sees it, and the registry of
// observers that want to hear about its changes: main (logging), the systemd
// notifier (STATUS=), the D-Bus Gateway1.State property, and any plugin. The
// connection is the one notifier; observers come and go with RAII subscriptions.
//
// Everything here runs on the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace tether::daemon {

enum class LinkState {
  kOffline,     // waiting for the next dial (backoff) or not started
  kConnecting,  // resolving, TCP, TLS, WebSocket handshake
  kOnline,      // handshake done, messages flow
  kStopped,     // shutdown finished
};

// "offline", "connecting", "online", "stopped".
std::string_view link_state_name(LinkState state);

class LinkObservers {
 public:
  // Called with the new state and a sentence about it ("offline; next dial in 4s").
  using Observer = std::function<void(LinkState state, std::string_view sentence)>;

  // Keeps one observer registered while it lives. Moving it moves the
  // registration; destroying it (or reset()) removes the observer, even from inside
  // a notification. It may outlive the registry: then it does nothing.
  class Subscription {
   public:
    Subscription() = default;
    ~Subscription() { reset(); }
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    void reset();
    bool active() const;

   private:
    friend class LinkObservers;
    struct Shared;
    Subscription(std::weak_ptr<Shared> shared, std::uint64_t id)
        : shared_(std::move(shared)), id_(id) {}
    std::weak_ptr<Shared> shared_;
    std::uint64_t id_ = 0;
  };

  LinkObservers();
  ~LinkObservers();
  LinkObservers(const LinkObservers&) = delete;
  LinkObservers& operator=(const LinkObservers&) = delete;

  // Registers `observer` until the returned subscription ends. It is not called
  // for the current state: read state() for that.
  [[nodiscard]] Subscription subscribe(Observer observer);

  // For the connection: records the new state and calls every observer, in the
  // order they subscribed. An observer added during a notification is first called
  // on the next one; one removed during it is not called any more.
  void notify(LinkState state, std::string_view sentence);

  LinkState state() const;
  const std::string& sentence() const;
  std::size_t size() const;

 private:
  std::shared_ptr<Subscription::Shared> shared_;
};

}  // namespace tether::daemon
