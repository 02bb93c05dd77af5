// The [filetransfer] section (spec/sessions.md section 4).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "daemon/plugin_api/options.hpp"

namespace tether::plugins::filetransfer {

struct FileTransferOptions {
  bool enabled = true;
  // Every path is resolved (`..`, symlinks) and must stay under this directory.
  std::string root = "/";
  // Bytes, for both directions; 0 = no limit.
  std::uint64_t max_file_size = 0;
  bool allow_overwrite = true;
  // A transfer that hears nothing from its peer this long is aborted (an upload's
  // temporary file removed). Mender's server gives up after 60 s.
  std::chrono::milliseconds idle_timeout{60'000};
};

daemon::OptionSection option_section();

FileTransferOptions read_options(daemon::OptionReader& reader);

}  // namespace tether::plugins::filetransfer
