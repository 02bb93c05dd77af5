// The connection's one outbound queue (the Outbound that handlers see): two
// priority classes, per-flow byte accounting, drain notifications and a hard cap.
// It knows nothing of sockets: the connection pops one message per writable
// callback, and tells the queue when the link comes and goes. That keeps it
// testable without a network.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "daemon/plugin_api/outbound.hpp"

namespace tether::daemon::transport {

class OutboundQueue final : public Outbound {
 public:
  struct Limits {
    // Bulk messages are refused beyond this many queued bytes (all classes).
    std::size_t hard_cap = 8u * 1024 * 1024;
    // Control messages may go this far past the cap, so that a queue full of
    // bulk data never blocks a pong, an ack or an error.
    std::size_t control_reserve = 1u * 1024 * 1024;
  };

  // `schedule` runs a callback later on the loop (EventLoop::post); `wake_writer`
  // asks the connection for a writable callback.
  OutboundQueue(Limits limits, std::function<void(std::function<void()>)> schedule,
                std::function<void()> wake_writer);

  // Outbound.
  Status send(const protocol::ProtoMsg& msg, Priority priority = Priority::kBulk,
              std::string_view flow = {}) override;
  std::size_t queued_bytes(std::string_view flow) const override;
  std::size_t total_queued_bytes() const override { return total_bytes_; }
  void when_drained(std::string_view flow, std::size_t flow_low_water, std::size_t total_low_water,
                    std::function<void()> fn) override;
  void cancel_drained(std::string_view flow) override;
  bool connected() const override { return connected_; }

  // For the connection. Queues already-encoded bytes (used by send()).
  Status enqueue_encoded(protocol::Bytes bytes, Priority priority, std::string_view flow);
  // The next message to write (control first), removed from the queue.
  std::optional<protocol::Bytes> pop();
  bool empty() const { return control_.empty() && bulk_.empty(); }
  // The link came up / went down. Going down discards the queue and every
  // drain waiter without calling it.
  void set_connected(bool connected);

 private:
  struct Entry {
    protocol::Bytes bytes;
    std::string flow;
  };
  struct Waiter {
    std::size_t flow_low_water = 0;
    std::size_t total_low_water = 0;
    std::function<void()> fn;
  };

  void account(const std::string& flow, std::size_t bytes, bool add);
  bool satisfied(const std::string& flow, const Waiter& waiter) const;
  void fire_satisfied_waiters();

  Limits limits_;
  std::function<void(std::function<void()>)> schedule_;
  std::function<void()> wake_writer_;
  bool connected_ = false;
  std::deque<Entry> control_;
  std::deque<Entry> bulk_;
  std::size_t total_bytes_ = 0;
  std::map<std::string, std::size_t, std::less<>> flow_bytes_;
  std::map<std::string, Waiter, std::less<>> waiters_;
};

}  // namespace tether::daemon::transport
