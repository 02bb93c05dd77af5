// The [monitoring] options section (spec/daemon.md), owned by the monitoring plugin.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/plugin_api/options.hpp"
#include "plugins/monitoring/inventory.hpp"

namespace tether::plugins::monitoring {

struct MonitoringOptions {
  // Bytes of stored, unacknowledged records; past it the oldest are dropped (and
  // one `dropped` record says which).
  std::uint64_t max_bytes = 16777216;
  // Records sent and not yet acknowledged.
  std::size_t window = 256;
  // Bytes of the largest single record, as sent (the msgpack body).
  std::size_t max_record = 65536;
  // Telemetry1 calls waiting for their record to be committed; past it a call is
  // refused with io.tether.Error.Busy (docs/monitoring.md, "Flood control").
  std::size_t max_pending_calls = 1024;
  InventoryOptions inventory;
};

daemon::OptionSection option_section();
MonitoringOptions read_options(daemon::OptionReader& reader);

}  // namespace tether::plugins::monitoring
