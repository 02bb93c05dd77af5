#include "plugins/shell/terminal_size.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include "plugins/shell/shell_wire.hpp"

namespace tether::plugins::shell {
namespace {

// The dimension `key` from props, `fallback` when absent, an error naming the
// property when present but unusable.
Result<std::uint16_t> dimension(const protocol::Map& props, std::string_view key,
                                std::uint16_t fallback) {
  const protocol::Value* value = protocol::find(props, key);
  if (value == nullptr) {
    return fallback;
  }
  std::optional<std::int64_t> number = value->as_int();
  if (!number) {
    std::optional<double> real = value->as_float();
    if (real && std::isfinite(*real) && std::trunc(*real) == *real &&
        std::fabs(*real) <= kMaxTerminalDimension) {
      number = static_cast<std::int64_t>(*real);
    }
  }
  if (!number || *number < 1 || *number > kMaxTerminalDimension) {
    return Error(std::string(key) + " must be an integer from 1 to " +
                 std::to_string(kMaxTerminalDimension));
  }
  return static_cast<std::uint16_t>(*number);
}

}  // namespace

Result<TerminalSize> terminal_size_from_props(const protocol::Map& props, TerminalSize fallback) {
  auto columns = dimension(props, wire::prop::kTerminalWidth, fallback.columns);
  if (!columns) {
    return columns.error();
  }
  auto rows = dimension(props, wire::prop::kTerminalHeight, fallback.rows);
  if (!rows) {
    return rows.error();
  }
  return TerminalSize{*columns, *rows};
}

}  // namespace tether::plugins::shell
