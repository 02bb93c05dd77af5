#include "daemon/plugin_api/options.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace tether::daemon {

std::optional<std::string> OptionSection::default_of(std::string_view key) const {
  for (const OptionDecl& decl : options) {
    if (decl.key == key) return decl.default_text;
  }
  return std::nullopt;
}

OptionReader::OptionReader(const OptionValues& values, std::string section,
                           std::vector<std::string>& problems)
    : values_(values), section_(std::move(section)), problems_(problems) {}

std::string OptionReader::name(std::string_view key) const {
  if (section_.empty()) return std::string(key);
  return section_ + "." + std::string(key);
}

std::optional<std::string> OptionReader::text(std::string_view key) const {
  auto it = values_.find(name(key));
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

void OptionReader::problem(std::string_view key, std::string_view what) {
  problems_.push_back(name(key) + ": " + std::string(what));
  ++count_;
}

void OptionReader::string(std::string_view key, std::string& out) {
  if (auto v = text(key)) out = *v;
}

void OptionReader::count(std::string_view key, std::size_t& out, std::size_t min, std::size_t max) {
  auto v = text(key);
  if (!v) return;
  const std::string& s = *v;
  if (s.size() > 1 && s[0] == '-' && s.find_first_not_of("0123456789", 1) == std::string::npos) {
    problem(key, "must not be negative: '" + s + "'");
    return;
  }
  std::size_t parsed = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
  if (ec == std::errc::invalid_argument || end != s.data() + s.size()) {
    problem(key, "not a number: '" + s + "'");
    return;
  }
  if (ec == std::errc::result_out_of_range || parsed > max) {
    problem(key, "too large: '" + s + "' (at most " + std::to_string(max) + ")");
    return;
  }
  if (parsed < min) {
    problem(key, "must be at least " + std::to_string(min) + ": '" + s + "'");
    return;
  }
  out = parsed;
}

void OptionReader::seconds(std::string_view key, std::chrono::milliseconds& out, bool positive) {
  auto v = text(key);
  if (!v) return;
  const std::string& s = *v;
  const bool well_formed = s.find_first_not_of("0123456789.-") == std::string::npos &&
                           std::count(s.begin(), s.end(), '.') <= 1 &&
                           s.find('-', 1) == std::string::npos && s != "." && s != "-";
  double parsed = 0;
  if (well_formed) {
    std::istringstream in(s);
    in >> parsed;
    if (!in || !in.eof()) parsed = std::numeric_limits<double>::quiet_NaN();
  }
  if (!well_formed || std::isnan(parsed)) {
    problem(key, "not a number of seconds: '" + s + "'");
    return;
  }
  if (parsed < 0 || s[0] == '-') {
    problem(key, "must not be negative: '" + s + "'");
    return;
  }
  if (positive && parsed < 0.001) {
    problem(key, "must be greater than 0: '" + s + "'");
    return;
  }
  if (parsed > kMaxOptionSeconds) {
    problem(key, "too large: '" + s + "'");
    return;
  }
  out = std::chrono::milliseconds(std::llround(parsed * 1000.0));
}

void OptionReader::whole_seconds(std::string_view key, std::chrono::seconds& out) {
  auto value = static_cast<std::size_t>(out.count());
  count(key, value, 0, static_cast<std::size_t>(kMaxOptionSeconds));
  out = std::chrono::seconds(static_cast<long long>(value));
}

void OptionReader::boolean(std::string_view key, bool& out) {
  auto v = text(key);
  if (!v) return;
  if (*v == "true" || *v == "yes" || *v == "on" || *v == "1") {
    out = true;
  } else if (*v == "false" || *v == "no" || *v == "off" || *v == "0") {
    out = false;
  } else {
    problem(key, "not a boolean (true/false): '" + *v + "'");
  }
}

void OptionReader::absolute_path(std::string_view key, std::string& out) {
  auto v = text(key);
  if (!v) return;
  if (v->front() != '/') {
    problem(key, "must be an absolute path: '" + *v + "'");
    return;
  }
  out = *v;
}

void OptionReader::existing_file(std::string_view key, std::string& out) {
  auto v = text(key);
  if (!v) return;
  out = *v;
  check_file(key, *v);
}

void OptionReader::check_file(std::string_view key, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    problem(key, "cannot use '" + path + "': " + std::strerror(errno));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    problem(key, "not a regular file: '" + path + "'");
    return;
  }
  std::ifstream probe(path);
  if (!probe.good() || ::access(path.c_str(), R_OK) != 0) {
    problem(key, "cannot read '" + path + "': " + std::strerror(errno != 0 ? errno : EACCES));
  }
}

}  // namespace tether::daemon
