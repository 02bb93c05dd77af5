// Logging for tetherd: one line per event on stderr (the journal under systemd).
// Library code returns errors; the layer that decides what to do with one logs it
// here, once, with its context. Nothing secret is ever passed in: the token and
// key material stay out of every message by construction (callers log paths and
// lengths, never contents).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tether::daemon::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

// "error", "warn", "info", "debug", "trace" (the log.level option values).
std::optional<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);

// The one place that turns a message into a line. Under systemd (JOURNAL_STREAM
// set) the line carries a "<N>" priority prefix instead of a timestamp, because the
// journal records time itself. `program` names the process in the line (tether-hub
// shares this logger).
std::string format_line(Level level, std::string_view message,
                        std::string_view program = "tetherd");

class Logger {
 public:
  explicit Logger(Level level = Level::kInfo, std::string program = "tetherd")
      : level_(level), program_(std::move(program)) {}

  Level level() const { return level_; }
  void set_level(Level level) { level_ = level; }
  bool enabled(Level level) const { return level <= level_; }

  void write(Level level, std::string_view message) const;
  void error(std::string_view message) const { write(Level::kError, message); }
  void warn(std::string_view message) const { write(Level::kWarn, message); }
  void info(std::string_view message) const { write(Level::kInfo, message); }
  void debug(std::string_view message) const { write(Level::kDebug, message); }
  void trace(std::string_view message) const { write(Level::kTrace, message); }

 private:
  Level level_;
  std::string program_;
};

// Routes libwebsockets' own log lines through format_line. lws takes a plain
// function pointer, so the routing is stateless: it only chooses which lws levels
// to let through (errors always; warnings and notices from debug on).
void route_lws_logs(Level level);

}  // namespace tether::daemon::log
