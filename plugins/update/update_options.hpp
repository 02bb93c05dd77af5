// The [update] section (spec/daemon.md, docs/tetherd.md): who installs, which key
// artifacts must be signed with, and tether's own knobs for the download and the
// installer.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "daemon/plugin_api/options.hpp"

namespace tether::plugins::update {

struct UpdateOptions {
  std::string installer;     // absolute path; empty: every offer is rejected
  std::string public_key;    // PEM file; empty: no signature needed
  std::string download_dir;  // empty: <device.state-dir>/update
  std::chrono::milliseconds install_timeout{std::chrono::minutes(30)};
  std::size_t download_attempts = 8;
  std::chrono::milliseconds download_backoff{1000};
  std::chrono::milliseconds download_backoff_max{60000};
  std::chrono::milliseconds stall_timeout{60000};
  std::size_t progress_step = 5;   // percent between progress reports
  std::size_t output_tail = 2048;  // bytes of installer output in the final message
};

daemon::OptionSection option_section();
// Reads and checks every key; the public key is loaded to check that it is one.
UpdateOptions read_options(daemon::OptionReader& reader);

}  // namespace tether::plugins::update
