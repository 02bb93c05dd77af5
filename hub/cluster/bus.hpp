// The message bus as the cluster layer sees it: publish bytes on a subject,
// subscribe to exact subjects, hear about (re)connections and a 1 s tick. Several
// handlers share one connection (the devices' and the operators' side), each
// ignoring the subjects that are not its own. NatsBus implements it
// over libnats; tests use an in-process one. Every call and every callback is on
// the loop thread.
#pragma once

#include <string>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::hub::cluster {

class BusHandler {
 public:
  virtual ~BusHandler() = default;
  // One message on a subscribed subject.
  virtual void bus_message(const std::string& subject, const protocol::Bytes& data) = 0;
  // The bus is (again) reachable: what the others missed must be told again.
  virtual void bus_connected() = 0;
  // The bus is unreachable (the connection retries on its own).
  virtual void bus_disconnected() = 0;
  // Once a second, connected or not: heartbeats and their timeouts.
  virtual void bus_tick() = 0;
};

class Bus {
 public:
  virtual ~Bus() = default;
  // One more handler for every message and connection news (added before the
  // first message, and outliving the bus's use).
  virtual void add_handler(BusHandler& handler) = 0;
  // Queued for the bus (buffered while it is reconnecting). kUnavailable when the
  // connection is closed, kInvalidArgument when `data` is over the server's limit.
  virtual Status publish(const std::string& subject, const protocol::Bytes& data) = 0;
  // Idempotent. Messages published on `subject` after this reach the handler.
  virtual Status subscribe(const std::string& subject) = 0;
  virtual void unsubscribe(const std::string& subject) = 0;
};

}  // namespace tether::hub::cluster
