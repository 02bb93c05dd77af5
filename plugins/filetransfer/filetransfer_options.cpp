#include "plugins/filetransfer/filetransfer_options.hpp"

#include <sys/stat.h>

#include <limits>

namespace tether::plugins::filetransfer {

daemon::OptionSection option_section() {
  return {
      "filetransfer",
      {
          {"enabled", "true", "serve file transfers (protocol 2)"},
          {"root", "/", "directory every transferred path must resolve under"},
          {"max-file-size", "0", "bytes, largest file in either direction; 0 = no limit"},
          {"allow-overwrite", "true", "whether an upload may replace an existing file"},
          {"idle-timeout", "60", "seconds without a message before a transfer is aborted"},
      },
      [](daemon::OptionReader& reader) { (void)read_options(reader); },
  };
}

FileTransferOptions read_options(daemon::OptionReader& reader) {
  FileTransferOptions o;
  reader.boolean("enabled", o.enabled);
  reader.absolute_path("root", o.root);
  if (auto given = reader.text("root"); given && reader.ok()) {
    struct stat st {};
    if (::stat(o.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      reader.problem("root", "not a directory: '" + o.root + "'");
  }
  std::size_t max_size = 0;
  reader.count("max-file-size", max_size, 0, std::numeric_limits<std::size_t>::max() / 2);
  o.max_file_size = max_size;
  reader.boolean("allow-overwrite", o.allow_overwrite);
  reader.seconds("idle-timeout", o.idle_timeout, true);
  return o;
}

}  // namespace tether::plugins::filetransfer
