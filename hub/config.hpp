// tether-hub's configuration: an INI file (Boost.Program_options syntax, `[section]`
// then `key = value`) and the same `section.key` names on the command line, which
// win. See docs/hub.md for every key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/log/logger.hpp"
#include "hub/store/monitoring_store.hpp"
#include "hub/store/sql/database.hpp"
#include "hub/update/update_settings.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

// The hub logs through tetherd's logger (one format for both programs); main
// names the program "tether-hub".
using LogLevel = daemon::log::Level;
using Logger = daemon::log::Logger;
inline constexpr const char* kProgramName = "tether-hub";

struct Limits {
  // Largest inbound WebSocket message, device or operator (wire.md: 1 MiB).
  std::size_t max_message = 1048576;
  // Operator WebSockets attached to one device at a time.
  std::size_t operators_per_device = 8;
  // Shell / routed sessions one operator WebSocket may own.
  std::size_t sessions_per_operator = 4;
  // Sessions owned by all operators of one device.
  std::size_t sessions_per_device = 16;
  // Outbound bytes queued towards one peer before the hub stops reading from the
  // other side (device) or gives up on it (a stalled operator is closed).
  std::size_t queue_high_water = 1048576;
  std::size_t queue_hard_cap = 8388608;
  // Logged-in operator sessions kept at once (oldest evicted).
  std::size_t max_operator_sessions = 256;
  // Connections of any kind (lws refuses beyond this). Each needs a file
  // descriptor: the hub raises its soft limit to the hard one at start, and the
  // unit sets LimitNOFILE (docs/performance.md "Fleet size").
  std::size_t max_connections = 16384;
};

struct HubConfig {
  std::string listen_address = "127.0.0.1";
  std::uint16_t listen_port = 8443;  // 0 = any free port (printed at start)
  std::string cert_file;
  std::string key_file;
  std::string state_dir = "/var/lib/tether-hub";
  std::string web_root;  // default: the UI built next to this binary (see main)
  std::string operator_username;
  std::string operator_password_hash;  // "pbkdf2-sha256$ITER$SALTHEX$HASHHEX"
  std::uint32_t session_ttl_s = 12 * 3600;
  // WebSocket keepalive: ping an idle peer after this, hang up after twice this.
  std::uint16_t ping_interval_s = 30;
  LogLevel log_level = LogLevel::kInfo;
  Limits limits;
  // [monitoring]: how long and how much record history is kept.
  MonitoringRetention monitoring;
  // [update]: the artifact folder, signing key and public URL (update_settings.hpp).
  UpdateSettings update;
  // [bus] url: empty = this is the only instance; nats://host:port = several hub
  // instances share their devices over NATS (hub/cluster/, docs/hub.md).
  std::string bus_url;
  // [store] url: where the hub keeps its state, `sqlite:DIR` or
  // `postgresql://...` (several instances share one PostgreSQL). Default:
  // sqlite:<hub.state-dir>.
  sql::StoreUrl store;
};

// What the command line asks for.
struct Invocation {
  enum class Mode { kServe, kAddDevice, kAddDevices, kHashPassword, kAddOperator, kHelp, kVersion };
  Mode mode = Mode::kServe;
  HubConfig config;
  std::string add_device_id;
  std::string token_file;
  // --add-operator NAME --role ROLE (the password comes on stdin).
  std::string add_operator_name;
  std::string add_operator_role;
  // --add-devices N --device-prefix P --tokens-out FILE (bulk registration).
  std::size_t add_devices = 0;
  std::string device_prefix = "sim-";
  std::string tokens_out;
  std::string help_text;
};

// Parses argv (and the --config file it names). Errors name the option at fault.
Result<Invocation> parse_command_line(int argc, const char* const argv[]);

// Checks what serving needs (cert, key, operator credentials). Every problem, one per line.
std::vector<std::string> validate_for_serving(const HubConfig& config);

}  // namespace tether::hub
