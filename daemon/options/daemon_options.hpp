// The daemon's own options (spec/daemon.md), validated and typed: [server],
// [device], [dbus], [log]. A plain struct: the parser fills it in once at start,
// every component gets the part it needs by const reference. Each plugin owns its
// own section (plugins/<name>/, declared through daemon/plugin_api/options.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "daemon/log/logger.hpp"

namespace tether::daemon {

enum class AuthMode { kToken, kMender, kNone };
enum class BusKind { kSystem, kSession, kNone };

struct ServerOptions {
  std::string url;
  std::string token_file;  // may name a file that does not exist yet
  AuthMode auth = AuthMode::kToken;
  std::string ca_file;  // empty: the system CAs
  std::string cert_file;
  std::string key_file;
  std::string proxy;  // empty: https_proxy / no_proxy from the environment
  // Durations are whole or fractional seconds on the command line, so tests can
  // run the keepalive and backoff machinery fast.
  std::chrono::milliseconds ping_interval{30'000};
  std::chrono::milliseconds pong_timeout{15'000};
  std::chrono::milliseconds backoff_max{300'000};
  std::chrono::milliseconds auth_backoff{60'000};
  // A connection that stayed up this long resets the backoff (tether's own option).
  std::chrono::milliseconds stable_after{30'000};
  std::size_t max_message = 1048576;
};

struct DeviceOptions {
  std::string id;  // default: the contents of /etc/machine-id
  std::string state_dir = "/var/lib/tether";
};

struct DaemonOptions {
  ServerOptions server;
  DeviceOptions device;
  BusKind dbus_bus = BusKind::kSystem;
  log::Level log_level = log::Level::kInfo;
  std::string config_file;  // the --config file, when one was given
};

}  // namespace tether::daemon
