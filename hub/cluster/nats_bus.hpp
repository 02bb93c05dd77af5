// The message bus over NATS (libnats, the C client). libnats runs its callbacks on
// its own threads; every one of them is handed to the hub's loop through the loop
// inbox, so BusHandler and everything behind it stay on the loop thread.
//
// The connection retries forever: a hub starts while the NATS server is down and
// rides out its restarts (libnats resubscribes and replays what was published
// meanwhile, up to its reconnect buffer); after each (re)connection the handler
// hears bus_connected(); and bus_tick() once a second.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hub/cluster/bus.hpp"
#include "hub/config.hpp"
#include "hub/loop_inbox.hpp"

namespace tether::hub::cluster {

class NatsBus final : public Bus {
 public:
  // Starts connecting to `url` (nats://host:port) in the background. Errors only
  // for what retrying cannot fix (a malformed URL, no memory).
  static Result<std::unique_ptr<NatsBus>> connect(const std::string& url, LoopInbox& inbox,
                                                  const Logger& log);
  // Closes the connection and waits until no libnats callback can run any more.
  ~NatsBus() override;
  NatsBus(const NatsBus&) = delete;
  NatsBus& operator=(const NatsBus&) = delete;

  void add_handler(BusHandler& handler) override { handlers_.push_back(&handler); }
  Status publish(const std::string& subject, const protocol::Bytes& data) override;
  Status subscribe(const std::string& subject) override;
  void unsubscribe(const std::string& subject) override;

  // What libnats callbacks share with this object (public for the C callbacks).
  struct Shared {
    LoopInbox* inbox = nullptr;
    NatsBus* bus = nullptr;  // read only on the loop thread, through the inbox
    std::shared_ptr<bool> alive;
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t open_subscriptions = 0;
    bool closed = false;
    bool stopping = false;  // the ticker's cue
  };

  // From the inbox, on the loop thread.
  void delivered(const std::string& subject, const protocol::Bytes& data);
  void connected(bool again);
  void disconnected();
  void tick();

 private:
  NatsBus(LoopInbox& inbox, const Logger& log);

  const Logger& log_;
  std::vector<BusHandler*> handlers_;
  Shared shared_;
  // The libnats connection and subscriptions (nats.h stays out of this header).
  struct Handles;
  std::unique_ptr<Handles> handles_;
  // Posts tick() to the loop once a second (the hub's loop has no timers).
  std::thread ticker_;
};

}  // namespace tether::hub::cluster
