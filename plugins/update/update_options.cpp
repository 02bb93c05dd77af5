#include "plugins/update/update_options.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "plugins/update/signature_check.hpp"

namespace tether::plugins::update {

daemon::OptionSection option_section() {
  return {
      "update",
      {
          {"installer", std::nullopt,
           "executable run as INSTALLER ARTIFACT with TETHER_UPDATE_* set; exit 0 = success"},
          {"public-key", std::nullopt,
           "PEM public key (Ed25519, ECDSA P-256, RSA) every artifact must be signed with"},
          {"download-dir", std::nullopt, "where artifacts go (default: <device.state-dir>/update)"},
          {"install-timeout", "1800", "seconds the installer may run before it is killed"},
          {"download-attempts", "8", "failed download attempts in a row before giving up"},
          {"download-backoff", "1", "seconds before the first retry; doubles each time"},
          {"download-backoff-max", "60", "seconds, cap of the retry backoff"},
          {"stall-timeout", "60", "seconds without a byte before a download attempt fails"},
          {"progress-step", "5", "percent of the download between progress reports"},
          {"output-tail", "2048", "bytes of the installer's output sent in the final message"},
      },
      [](daemon::OptionReader& reader) { (void)read_options(reader); },
  };
}

UpdateOptions read_options(daemon::OptionReader& reader) {
  UpdateOptions o;
  reader.absolute_path("installer", o.installer);
  if (!o.installer.empty() && ::access(o.installer.c_str(), X_OK) != 0) {
    reader.problem("installer", "cannot execute '" + o.installer +
                                    "': " + std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
  }
  const std::size_t before = reader.problem_count();
  reader.existing_file("public-key", o.public_key);
  if (!o.public_key.empty() && reader.problem_count() == before) {
    if (auto key = PublicKey::load(o.public_key); !key) {
      reader.problem("public-key", key.error().message());
    }
  }
  reader.absolute_path("download-dir", o.download_dir);
  reader.seconds("install-timeout", o.install_timeout, true);
  reader.count("download-attempts", o.download_attempts, 1, 1000);
  reader.seconds("download-backoff", o.download_backoff, true);
  reader.seconds("download-backoff-max", o.download_backoff_max, true);
  reader.seconds("stall-timeout", o.stall_timeout, true);
  reader.count("progress-step", o.progress_step, 1, 100);
  reader.count("output-tail", o.output_tail, 0, 65536);
  return o;
}

}  // namespace tether::plugins::update
