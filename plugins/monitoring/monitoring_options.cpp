#include "plugins/monitoring/monitoring_options.hpp"

#include <limits>

namespace tether::plugins::monitoring {

daemon::OptionSection option_section() {
  return {
      "monitoring",
      {
          {"max-bytes", "16777216", "bytes of stored, unacknowledged records"},
          {"window", "256", "records in flight without an ack"},
          {"max-record", "65536", "bytes, largest single record"},
          {"max-pending-calls", "1024",
           "Telemetry1 calls waiting for the store; more are refused with Busy"},
          {"inventory-dir", "/etc/tether/inventory.d",
           "folder of executables whose key=value output joins the inventory"},
          {"inventory-timeout", "10", "seconds one inventory script may run"},
      },
      [](daemon::OptionReader& reader) { (void)read_options(reader); },
  };
}

MonitoringOptions read_options(daemon::OptionReader& reader) {
  MonitoringOptions o;
  std::size_t max_bytes = o.max_bytes;
  reader.count("max-bytes", max_bytes, 1, std::numeric_limits<std::size_t>::max());
  o.max_bytes = max_bytes;
  reader.count("window", o.window, 1);
  // A record must fit in the store's value limit and in a WebSocket message.
  reader.count("max-record", o.max_record, 64, std::size_t{16} << 20U);
  reader.count("max-pending-calls", o.max_pending_calls, 1);
  reader.absolute_path("inventory-dir", o.inventory.directory);
  reader.seconds("inventory-timeout", o.inventory.script_timeout, true);
  return o;
}

}  // namespace tether::plugins::monitoring
