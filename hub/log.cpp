#include "hub/log.hpp"

#include <cstdio>

namespace tether::hub {

void Logger::write(LogLevel level, std::string_view msg) const {
  if (!enabled(level)) return;
  static constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
  // One fprintf per line so that lines from lws's own logging do not interleave.
  std::fprintf(stderr, "tether-hub %s: %.*s\n", kNames[static_cast<int>(level)],
               static_cast<int>(msg.size()), msg.data());
}

}  // namespace tether::hub
