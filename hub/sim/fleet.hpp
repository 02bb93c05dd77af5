// The simulated fleet: one libwebsockets context, one event loop, one TLS
// WebSocket per SimulatedDevice. Each link dials, re-dials with the daemon's
// Backoff (exponential, full jitter, floor, cap; reset after a stable link), waits
// `auth-backoff` after a 401/403, keeps the link alive with pings (a ping after
// ping-interval of silence, hang-up after pong-timeout more, checked by one
// fleet-wide pass a second rather than a timer per link), and frames its own
// binary messages as the daemon does
// (websocket_frame.hpp), several per write.
//
// A fleet-wide tick makes records (rate x elapsed, carried over as credit per
// device), writes the stats line and checks the stop conditions; SIGINT / SIGTERM
// (stop) and SIGUSR1 (pause or resume making records) arrive through a signalfd
// on the same loop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hub/sim/sim_options.hpp"
#include "protocol/result.hpp"

namespace tether::sim {

struct DeviceIdentity {
  std::string id;
  std::string token;
};

// Reads "ID TOKEN" lines (blank lines and lines starting with '#' skipped).
Result<std::vector<DeviceIdentity>> read_tokens(const std::string& path, std::size_t max_devices);

class Fleet {
 public:
  static Result<std::unique_ptr<Fleet>> create(const SimOptions& options,
                                               std::vector<DeviceIdentity> identities);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Runs until a stop condition; returns the exit status (0, or 1 when
  // --exit-when-acked was not met within --duration).
  int run();

  class Impl;

 private:
  explicit Fleet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::sim
