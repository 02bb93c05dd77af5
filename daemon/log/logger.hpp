// Logging for tetherd: one line per event on stderr (the journal under systemd).
// Library code returns errors; the layer that decides what to do with one logs it
// here, once, with its context. Nothing secret is ever passed in: the token and
// key material stay out of every message by construction (callers log paths and
// lengths, never contents).
#pragma once

#include <functional>
#include <optional>
#include <span>
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

// A structured journal field that goes with a record ("TETHER_SID", "abc"): names
// are upper case, digits and underscores (journald's rule).
struct Field {
  std::string name;
  std::string value;
};

class Logger {
 public:
  // Where a message goes once it passed the level filter: by default a line on
  // stderr (and, for a record with fields under systemd, the journal's native
  // protocol); tests pass their own to capture what was logged.
  using Sink =
      std::function<void(Level level, std::string_view message, std::span<const Field> fields)>;

  // `program` names the process in each line (tether-hub shares this logger).
  explicit Logger(Level level = Level::kInfo, std::string program = "tetherd")
      : level_(level), program_(std::move(program)) {}
  Logger(Level level, Sink sink) : level_(level), program_("tetherd"), sink_(std::move(sink)) {}

  Level level() const { return level_; }
  void set_level(Level level) { level_ = level; }
  bool enabled(Level level) const { return level <= level_; }

  void write(Level level, std::string_view message) const;
  // A record that must be kept whatever log.level says (the audit log): written at
  // `level` even when that level is filtered out. Under systemd (JOURNAL_STREAM
  // set) it goes to the journal with `fields` attached, so that
  // `journalctl TETHER_AUDIT=1` finds it; elsewhere it is a plain line.
  void record(Level level, std::string_view message, std::span<const Field> fields) const;
  void error(std::string_view message) const { write(Level::kError, message); }
  void warn(std::string_view message) const { write(Level::kWarn, message); }
  void info(std::string_view message) const { write(Level::kInfo, message); }
  void debug(std::string_view message) const { write(Level::kDebug, message); }
  void trace(std::string_view message) const { write(Level::kTrace, message); }

 private:
  Level level_;
  std::string program_;
  Sink sink_;
};

// Routes libwebsockets' own log lines through format_line. lws takes a plain
// function pointer, so the routing is stateless: it only chooses which lws levels
// to let through (errors always; warnings and notices from debug on).
void route_lws_logs(Level level);

}  // namespace tether::daemon::log
