#include "plugins/config/config_options.hpp"

namespace tether::plugins::config {

namespace {
// The store refuses documents over 16 MiB; leave room for the version and framing.
constexpr std::size_t kMaxBytesCeiling = std::size_t{15} << 20U;
// The decoder refuses nesting past 32 levels, two of which are the body and `values`.
constexpr std::size_t kMaxDepthCeiling = 30;
}  // namespace

daemon::OptionSection option_section() {
  return {
      "config",
      {
          {"enabled", "true", "accept config pushed by the backend (protocol 0x0011)"},
          {"max-bytes", "1048576", "largest stored config, encoded, in bytes (1024..15728640)"},
          {"max-depth", "16", "deepest nesting of arrays and maps in a value (1..30)"},
      },
      [](daemon::OptionReader& reader) { (void)read_options(reader); },
  };
}

ConfigOptions read_options(daemon::OptionReader& reader) {
  ConfigOptions o;
  reader.boolean("enabled", o.enabled);
  reader.count("max-bytes", o.limits.max_bytes, 1024, kMaxBytesCeiling);
  reader.count("max-depth", o.limits.max_depth, 1, kMaxDepthCeiling);
  return o;
}

}  // namespace tether::plugins::config
