#include "daemon/log/logger.hpp"

#include <libwebsockets.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace tether::daemon::log {
namespace {

// sd-daemon(3) priorities.
int syslog_priority(Level level) {
  switch (level) {
    case Level::kError:
      return 3;
    case Level::kWarn:
      return 4;
    case Level::kInfo:
      return 6;
    case Level::kDebug:
    case Level::kTrace:
      return 7;
  }
  return 6;
}

void emit(const std::string& line) {
  // One write per line so that lines from libwebsockets and ours never interleave.
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

void lws_emit(int lws_level, const char* line) {
  const Level level = (lws_level & LLL_ERR)    ? Level::kError
                      : (lws_level & LLL_WARN) ? Level::kWarn
                                               : Level::kDebug;
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  emit(format_line(level, std::string("lws: ") + std::string(text)));
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  if (name == "error") return Level::kError;
  if (name == "warn") return Level::kWarn;
  if (name == "info") return Level::kInfo;
  if (name == "debug") return Level::kDebug;
  if (name == "trace") return Level::kTrace;
  return std::nullopt;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kError:
      return "error";
    case Level::kWarn:
      return "warn";
    case Level::kInfo:
      return "info";
    case Level::kDebug:
      return "debug";
    case Level::kTrace:
      return "trace";
  }
  return "info";
}

std::string format_line(Level level, std::string_view message, std::string_view program) {
  std::string line;
  if (std::getenv("JOURNAL_STREAM") != nullptr) {
    // Appended, not "<" + std::string: GCC 12 -Wrestrict false positive at -O3 (PR 105329).
    line += '<';
    line += std::to_string(syslog_priority(level));
    line += '>';
  } else {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(millis));
    line = stamp;
  }
  line += program;
  line += ' ';
  line += level_name(level);
  line += ": ";
  line += message;
  line += '\n';
  return line;
}

namespace {

// Sends one entry over journald's native protocol with extra fields. Returns false
// when the journal did not take it (no socket, a field it refuses).
bool send_to_journal(Level level, std::string_view message, std::span<const Field> fields,
                     std::string_view program) {
  std::vector<std::string> items;
  items.reserve(fields.size() + 3);
  items.push_back("MESSAGE=" + std::string(message));
  items.push_back("PRIORITY=" + std::to_string(syslog_priority(level)));
  items.push_back("SYSLOG_IDENTIFIER=" + std::string(program));
  for (const Field& field : fields) items.push_back(field.name + "=" + field.value);
  std::vector<iovec> vector;
  vector.reserve(items.size());
  for (std::string& item : items) vector.push_back(iovec{item.data(), item.size()});
  return sd_journal_sendv(vector.data(), static_cast<int>(vector.size())) >= 0;
}

}  // namespace

void Logger::write(Level level, std::string_view message) const {
  if (!enabled(level)) return;
  if (sink_) {
    sink_(level, message, {});
    return;
  }
  emit(format_line(level, message, program_));
}

void Logger::record(Level level, std::string_view message, std::span<const Field> fields) const {
  if (sink_) {
    sink_(level, message, fields);
    return;
  }
  if (!fields.empty() && std::getenv("JOURNAL_STREAM") != nullptr &&
      send_to_journal(level, message, fields, program_))
    return;
  emit(format_line(level, message, program_));
}

void route_lws_logs(Level level) {
  int mask = LLL_ERR;
  if (level >= Level::kDebug) mask |= LLL_WARN | LLL_NOTICE;
  if (level >= Level::kTrace) mask |= LLL_INFO;
  lws_set_log_level(mask, lws_emit);
}

}  // namespace tether::daemon::log
