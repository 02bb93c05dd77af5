// The [portforward] section (spec/sessions.md section 4).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "daemon/plugin_api/options.hpp"

namespace tether::plugins::portforward {

struct PortForwardOptions {
  bool enabled = true;
  // Comma-separated host:port patterns (allow_list.hpp).
  std::string allow = "127.0.0.1:*, [::1]:*, localhost:*";
  // Open forwarded connections in total.
  std::size_t max_connections = 32;
  // A connection whose local side sends nothing this long is stopped (Mender: 600 s).
  std::chrono::milliseconds idle_timeout{600'000};
  // How long a dial may take.
  std::chrono::milliseconds connect_timeout{10'000};
};

daemon::OptionSection option_section();

PortForwardOptions read_options(daemon::OptionReader& reader);

}  // namespace tether::plugins::portforward
