// tether-sim's command line. Every option has a default but --url and --tokens;
// a bad value is refused with a sentence naming the option (exit status 2).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/transport/server_url.hpp"
#include "hub/sim/simulated_device.hpp"
#include "protocol/result.hpp"

namespace tether::sim {

struct SimOptions {
  daemon::transport::ServerUrl url;
  std::string ca_file;      // empty: the system's CAs
  std::string tokens_file;  // "ID TOKEN" per line (tether-hub --add-devices --tokens-out)
  std::size_t devices = 0;  // 0: every device of the tokens file

  DeviceBehaviour behaviour;
  double records_per_second = 0;         // per device
  std::uint64_t records_per_device = 0;  // 0: no end
  bool exit_when_acked = false;
  bool start_paused = false;  // make no records until SIGUSR1
  double duration_s = 0;      // 0: until SIGINT / SIGTERM

  // The daemon's keepalive and reconnect settings (daemon.md, [server]).
  std::chrono::milliseconds ping_interval{30'000};
  std::chrono::milliseconds pong_timeout{15'000};
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_max{300'000};
  std::chrono::milliseconds auth_backoff{60'000};
  std::chrono::milliseconds stable_after{30'000};
  std::chrono::milliseconds connect_timeout{20'000};
  // The first dials are spread evenly over this (0: all at once).
  std::chrono::milliseconds ramp{0};

  std::string stats_file;  // CSV, one line per stats interval
  std::chrono::milliseconds stats_interval{1'000};
  std::string summary_file;  // JSON at exit
  bool quiet = false;
  std::uint64_t seed = 0;  // 0: random
  // Local IPv4 addresses the devices dial from, in turn (device i from
  // [i % size]); empty: the kernel picks. A balancer that hashes the client's
  // address (HAProxy's `balance source`) then spreads a fleet simulated on one
  // machine over its servers, as it would a real fleet's addresses.
  std::vector<std::string> source_addresses;
};

// The addresses FIRST..LAST ("127.0.0.2-127.0.0.65", or one address), at most
// kMaxSourceAddresses of them.
inline constexpr std::size_t kMaxSourceAddresses = 65536;
Result<std::vector<std::string>> parse_source_addresses(const std::string& range);

struct SimInvocation {
  bool help = false;
  std::string help_text;
  SimOptions options;
};

Result<SimInvocation> parse_sim_options(int argc, const char* const argv[]);

}  // namespace tether::sim
