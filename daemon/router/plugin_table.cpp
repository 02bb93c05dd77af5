#include "daemon/router/plugin_table.hpp"

namespace tether::daemon {

std::vector<OptionSection> plugin_sections(std::span<const PluginRow> rows) {
  std::vector<OptionSection> sections;
  sections.reserve(rows.size());
  for (const PluginRow& row : rows) sections.push_back(row.options);
  return sections;
}

bool plugin_enabled(const PluginRow& row, const OptionValues& values) {
  const std::string key = row.options.name + ".enabled";
  std::vector<std::string> problems;  // a bad value was reported by the option check
  bool enabled = true;
  // The declared default, read as the option would be; then the value given.
  if (const auto declared = row.options.default_of("enabled")) {
    const OptionValues defaults{{key, *declared}};
    OptionReader(defaults, row.options.name, problems).boolean("enabled", enabled);
  }
  OptionReader(values, row.options.name, problems).boolean("enabled", enabled);
  return enabled;
}

Result<PluginHandlers> build_plugins(std::span<const PluginRow> rows, const OptionValues& values,
                                     const PluginEnvironment& environment, Router& router) {
  PluginHandlers handlers;
  for (const PluginRow& row : rows) {
    const std::string& name = row.options.name;
    if (!plugin_enabled(row, values)) {
      std::string line = name;
      line += ": disabled (";
      line += name;
      line += ".enabled = false)";
      environment.logger.info(line);
      continue;
    }
    PluginContext context{.loop = environment.loop,
                          .outbound = environment.outbound,
                          .log = PluginLogger(environment.logger, name),
                          .link = environment.link,
                          .device = environment.device,
                          .store = environment.store,
                          .bus = environment.bus};
    std::vector<std::string> problems;
    OptionReader reader(values, name, problems);
    auto handler = row.factory(context, reader);
    if (!problems.empty())
      return Error(ErrorCode::kInvalidArgument, "plugin " + name + ": " + problems.front());
    if (!handler) return handler.error().wrap("plugin " + name);
    if (!handler.value())
      return Error(ErrorCode::kInternal, "plugin " + name + ": factory returned no handler");
    if (auto status = router.add_handler(row.proto, *handler.value(), row.session_based); !status)
      return status.error().wrap("plugin " + name);
    handlers.push_back(std::move(handler).value());
  }
  return handlers;
}

}  // namespace tether::daemon
