// The [config] options section (docs/tetherd.md).
#pragma once

#include "daemon/plugin_api/options.hpp"
#include "plugins/config/config_document.hpp"

namespace tether::plugins::config {

struct ConfigOptions {
  bool enabled = true;
  ConfigLimits limits;
};

daemon::OptionSection option_section();
// Reads the section; problems are recorded in the reader.
ConfigOptions read_options(daemon::OptionReader& reader);

}  // namespace tether::plugins::config
