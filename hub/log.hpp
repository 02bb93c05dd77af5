// The hub's one place that logs. Library-like parts of the hub (store, relay, auth)
// return errors with context; the lws glue and main hand them to this logger.
// Never pass a token, password or session cookie to it.
#pragma once

#include <string_view>

namespace tether::hub {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::kInfo) : level_(level) {}

  void error(std::string_view msg) const { write(LogLevel::kError, msg); }
  void warn(std::string_view msg) const { write(LogLevel::kWarn, msg); }
  void info(std::string_view msg) const { write(LogLevel::kInfo, msg); }
  void debug(std::string_view msg) const { write(LogLevel::kDebug, msg); }
  bool enabled(LogLevel level) const { return level <= level_; }

 private:
  void write(LogLevel level, std::string_view msg) const;
  LogLevel level_;
};

}  // namespace tether::hub
