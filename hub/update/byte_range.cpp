#include "hub/update/byte_range.hpp"

#include <charconv>

namespace tether::hub {

namespace {

std::optional<std::uint64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

ByteRange choose_range(std::optional<std::string_view> header, std::uint64_t size) {
  const ByteRange whole{ByteRange::Kind::kWhole, 0, size};
  if (!header) return whole;
  std::string_view spec = trim(*header);
  constexpr std::string_view kUnit = "bytes=";
  if (spec.substr(0, kUnit.size()) != kUnit) return whole;
  spec = trim(spec.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return whole;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view first_text = trim(spec.substr(0, dash));
  const std::string_view last_text = trim(spec.substr(dash + 1));
  const ByteRange unsatisfiable{ByteRange::Kind::kUnsatisfiable, 0, 0};
  if (first_text.empty()) {
    // "-N": the last N bytes.
    const auto suffix = number(last_text);
    if (!suffix) return whole;
    if (*suffix == 0 || size == 0) return unsatisfiable;
    const std::uint64_t n = *suffix < size ? *suffix : size;
    return {ByteRange::Kind::kPartial, size - n, n};
  }
  const auto first = number(first_text);
  if (!first) return whole;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    const auto asked = number(last_text);
    if (!asked || *asked < *first) return whole;  // invalid: ignored (RFC 9110 14.1.1)
    if (*asked < last) last = *asked;
  }
  if (*first >= size) return unsatisfiable;
  return {ByteRange::Kind::kPartial, *first, last - *first + 1};
}

}  // namespace tether::hub
