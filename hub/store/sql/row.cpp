#include <charconv>
#include <cstdlib>

#include "hub/store/sql/database.hpp"

namespace tether::hub::sql {
namespace {

// The leading decimal integer of `s` (as SQLite's CAST does), 0 when there is none.
std::int64_t parse_int64(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

double parse_real(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

bool Row::is_null(std::size_t col) const {
  return col >= cells_.size() || std::holds_alternative<std::monostate>(cells_[col]);
}

std::int64_t Row::int64(std::size_t col) const {
  if (col >= cells_.size()) return 0;
  const Cell& c = cells_[col];
  if (const auto* i = std::get_if<std::int64_t>(&c)) return *i;
  if (const auto* d = std::get_if<double>(&c)) return static_cast<std::int64_t>(*d);
  if (const auto* s = std::get_if<std::string>(&c)) return parse_int64(*s);
  if (const auto* b = std::get_if<protocol::Bytes>(&c)) {
    return parse_int64(std::string_view(reinterpret_cast<const char*>(b->data()), b->size()));
  }
  return 0;
}

double Row::real(std::size_t col) const {
  if (col >= cells_.size()) return 0;
  const Cell& c = cells_[col];
  if (const auto* d = std::get_if<double>(&c)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&c)) return static_cast<double>(*i);
  if (const auto* s = std::get_if<std::string>(&c)) return parse_real(*s);
  if (const auto* b = std::get_if<protocol::Bytes>(&c)) {
    return parse_real(std::string_view(reinterpret_cast<const char*>(b->data()), b->size()));
  }
  return 0;
}

std::string Row::text(std::size_t col) const {
  if (col >= cells_.size()) return {};
  const Cell& c = cells_[col];
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&c)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&c)) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
    return ec == std::errc() ? std::string(buf, end) : std::string();
  }
  if (const auto* b = std::get_if<protocol::Bytes>(&c)) return std::string(b->begin(), b->end());
  return {};
}

std::optional<std::string> Row::opt_text(std::size_t col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

protocol::Bytes Row::blob(std::size_t col) const {
  if (col >= cells_.size()) return {};
  const Cell& c = cells_[col];
  if (const auto* b = std::get_if<protocol::Bytes>(&c)) return *b;
  if (std::holds_alternative<std::monostate>(c)) return {};
  const std::string s = text(col);
  return protocol::Bytes(s.begin(), s.end());
}

}  // namespace tether::hub::sql
