#include "daemon/plugin_api/plugin_logger.hpp"

#include <cctype>
#include <cstdio>
#include <vector>

namespace tether::daemon {
namespace {

bool is_bare(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && std::string_view("._:/@+-").find(c) == std::string_view::npos)
      return false;
  }
  return true;
}

std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string journal_name(std::string_view key) {
  std::string out = "TETHER_";
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    out += std::isalnum(u) != 0 ? static_cast<char>(std::toupper(u)) : '_';
  }
  return out;
}

}  // namespace

void PluginLogger::write(log::Level level, std::string_view message) const {
  if (!logger_->enabled(level)) return;
  std::string line = name_;
  line += ": ";
  line += message;
  logger_->write(level, line);
}

std::string PluginLogger::audit_line(std::string_view plugin, std::string_view event,
                                     std::initializer_list<AuditField> fields) {
  std::string line = "audit: ";
  line += plugin;
  line += ' ';
  line += event;
  for (const AuditField& field : fields) {
    line += ' ';
    line += field.key;
    line += '=';
    line += is_bare(field.value) ? field.value : quoted(field.value);
  }
  return line;
}

void PluginLogger::audit(std::string_view event, std::initializer_list<AuditField> fields) const {
  std::vector<log::Field> journal;
  journal.reserve(fields.size() + 3);
  journal.push_back({"TETHER_AUDIT", "1"});
  journal.push_back({"TETHER_PLUGIN", name_});
  journal.push_back({"TETHER_EVENT", std::string(event)});
  for (const AuditField& field : fields) journal.push_back({journal_name(field.key), field.value});
  logger_->record(log::Level::kInfo, audit_line(name_, event, fields), journal);
}

}  // namespace tether::daemon
