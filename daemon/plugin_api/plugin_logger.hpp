// A plugin's logger: the daemon's Logger (same levels, same line format, same
// log.level), with every line prefixed by the plugin's name ("shell: ..."), plus the
// audit log that session-based handlers keep (docs/shell.md, "Audit log").
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "daemon/log/logger.hpp"

namespace tether::daemon {

// One key=value of an audit line. Keys are lower case words ("sid", "user_id");
// the journal field is TETHER_<KEY in upper case>.
struct AuditField {
  std::string_view key;
  std::string value;
};

class PluginLogger {
 public:
  // `logger` must outlive this (main owns it).
  PluginLogger(const log::Logger& logger, std::string name)
      : logger_(&logger), name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  bool enabled(log::Level level) const { return logger_->enabled(level); }

  void write(log::Level level, std::string_view message) const;
  void error(std::string_view message) const { write(log::Level::kError, message); }
  void warn(std::string_view message) const { write(log::Level::kWarn, message); }
  void info(std::string_view message) const { write(log::Level::kInfo, message); }
  void debug(std::string_view message) const { write(log::Level::kDebug, message); }
  void trace(std::string_view message) const { write(log::Level::kTrace, message); }

  // One audit record, kept whatever log.level says, as the fixed line
  //   audit: <plugin> <event> key=value key=value ...
  // in the order given. A value that is empty or holds anything but letters,
  // digits and ._:/@+- is written in double quotes with \" \\ and \xNN escapes,
  // so a peer-chosen value (a user_id) can neither split the line nor forge a
  // key. Under systemd the journal entry also carries TETHER_AUDIT=1,
  // TETHER_PLUGIN, TETHER_EVENT and TETHER_<KEY> per field.
  void audit(std::string_view event, std::initializer_list<AuditField> fields) const;

  // The line audit() writes (without the logger's own prefix), for tests and docs.
  static std::string audit_line(std::string_view plugin, std::string_view event,
                                std::initializer_list<AuditField> fields);

 private:
  const log::Logger* logger_;
  std::string name_;
};

}  // namespace tether::daemon
