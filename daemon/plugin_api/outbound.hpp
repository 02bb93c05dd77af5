// The connection's outbound queue as a handler sees it. It lives in the plugin API,
// below both the router and the transport, so that neither includes the other: the
// transport implements it (OutboundQueue), handlers and the router send through it.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "protocol/message.hpp"
#include "protocol/result.hpp"

namespace tether::daemon {

// Outbound messages of class kControl (pongs, acks, errors, stop replies) are
// written before any kBulk message, so a flood of shell output never delays a
// keepalive or an ack.
enum class Priority { kControl, kBulk };

class Outbound {
 public:
  virtual ~Outbound() = default;

  // Queues `msg` on the live connection. Fails (and queues nothing) when there is
  // no connection, or when the queue as a whole is past its hard cap; a producer
  // that paces itself with queued_bytes()/when_drained() never sees the latter.
  // `flow` names the producer (for example "shell/<sid>") for per-flow accounting;
  // empty means unaccounted.
  virtual Status send(const protocol::ProtoMsg& msg, Priority priority = Priority::kBulk,
                      std::string_view flow = {}) = 0;

  // Encoded bytes of `flow`'s messages (or of all messages) queued and not yet
  // handed to the socket.
  virtual std::size_t queued_bytes(std::string_view flow) const = 0;
  virtual std::size_t total_queued_bytes() const = 0;

  // Calls `fn` once on the loop when both queued_bytes(flow) <= flow_low_water and
  // total_queued_bytes() <= total_low_water (at once, via post, if already so).
  // Replaces a previous waiter of the same flow; cleared on disconnect (no call).
  virtual void when_drained(std::string_view flow, std::size_t flow_low_water,
                            std::size_t total_low_water, std::function<void()> fn) = 0;
  virtual void cancel_drained(std::string_view flow) = 0;

  virtual bool connected() const = 0;
};

}  // namespace tether::daemon
