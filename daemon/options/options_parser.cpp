#include "daemon/options/options_parser.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <limits>
#include <sstream>

#include "daemon/transport/proxy_config.hpp"
#include "daemon/transport/server_url.hpp"

namespace po = boost::program_options;

namespace tether::daemon {
namespace {

constexpr std::size_t kMaxMessageLimit = std::size_t{256} * 1024 * 1024;

// The daemon's own sections. The plugins' sections come from main's plugin table.
std::vector<OptionSection> daemon_sections() {
  return {
      {"server",
       {
           {"url", std::nullopt, "wss://host[:port][/path] of the backend (required)"},
           {"token-file", std::nullopt, "file holding the bearer token; re-read on every connect"},
           {"auth", "token", "token, mender or none"},
           {"ca-file", std::nullopt, "PEM bundle that verifies the server (default: system CAs)"},
           {"cert-file", std::nullopt, "client certificate (PEM) for mutual TLS"},
           {"key-file", std::nullopt, "client key (PEM) for mutual TLS"},
           {"proxy", std::nullopt,
            "http://host:port of an HTTP CONNECT proxy (default: https_proxy)"},
           {"ping-interval", "30", "seconds between WebSocket pings"},
           {"pong-timeout", "15", "seconds without a pong or any frame before the link is dead"},
           {"backoff-max", "300", "seconds, cap of the reconnect backoff"},
           {"auth-backoff", "60", "seconds to wait after a 401/403"},
           {"stable-after", "30", "seconds a connection must stay up to reset the backoff"},
           {"max-message", "1048576", "bytes, inbound message limit"},
       },
       nullptr},
      {"device",
       {
           {"id", std::nullopt, "device identity (default: contents of /etc/machine-id)"},
           {"state-dir", "/var/lib/tether", "durable state directory"},
       },
       nullptr},
      {"dbus", {{"bus", "system", "system, session or none"}}, nullptr},
      {"log", {{"level", "info", "error, warn, info, debug or trace"}}, nullptr},
  };
}

// Boost's view of the sections: every key as `section.key` taking one text value.
po::options_description describe(const std::vector<OptionSection>& sections) {
  po::options_description desc(
      "Options (command line --section.key=value, or [section] key = "
      "value in the --config file)");
  for (const OptionSection& section : sections) {
    for (const OptionDecl& decl : section.options) {
      std::string meaning = decl.help;
      if (decl.default_text) meaning += " [" + *decl.default_text + "]";
      const std::string name = section.name + "." + decl.key;
      desc.add_options()(name.c_str(), po::value<std::string>()->value_name("VALUE"),
                         meaning.c_str());
    }
  }
  return desc;
}

po::options_description general_options() {
  po::options_description desc("General");
  desc.add_options()("config", po::value<std::string>()->value_name("FILE"),
                     "INI file with the options below; the command line wins")(
      "check-config", "validate the options, print every problem, exit 0 or 2")(
      "version", "print the version and exit")("help", "print this help and exit");
  return desc;
}

std::string read_machine_id(const std::string& path) {
  std::ifstream in(path);
  std::string id;
  std::getline(in, id);
  while (!id.empty() && (id.back() == ' ' || id.back() == '\r' || id.back() == '\n')) id.pop_back();
  return id;
}

void validate_daemon(const OptionValues& values, const std::string& machine_id_path,
                     ParsedCommandLine& result) {
  DaemonOptions& o = result.options;
  std::vector<std::string>& problems = result.problems;

  OptionReader server(values, "server", problems);
  if (auto url = server.text("url")) {
    o.server.url = *url;
    if (auto parsed = transport::parse_server_url(*url); !parsed)
      server.problem("url", parsed.error().message());
  } else {
    server.problem("url", "required (for example --server.url=wss://backend.example.com)");
  }
  server.string("token-file", o.server.token_file);
  server.choice(
      "auth", o.server.auth,
      {{"token", AuthMode::kToken}, {"mender", AuthMode::kMender}, {"none", AuthMode::kNone}});
  server.existing_file("ca-file", o.server.ca_file);
  server.existing_file("cert-file", o.server.cert_file);
  server.existing_file("key-file", o.server.key_file);
  if (!o.server.cert_file.empty() && o.server.key_file.empty())
    server.problem("cert-file", "given without server.key-file");
  if (o.server.cert_file.empty() && !o.server.key_file.empty())
    server.problem("key-file", "given without server.cert-file");
  if (auto proxy = server.text("proxy")) {
    o.server.proxy = *proxy;
    if (auto parsed = transport::parse_proxy_url(*proxy); !parsed)
      server.problem("proxy", parsed.error().message());
  }
  server.seconds("ping-interval", o.server.ping_interval, true);
  server.seconds("pong-timeout", o.server.pong_timeout, true);
  server.seconds("backoff-max", o.server.backoff_max, true);
  server.seconds("auth-backoff", o.server.auth_backoff, true);
  server.seconds("stable-after", o.server.stable_after, false);
  server.count("max-message", o.server.max_message, 1, kMaxMessageLimit);

  OptionReader device(values, "device", problems);
  if (auto id = device.text("id")) {
    o.device.id = *id;
  } else {
    o.device.id = read_machine_id(machine_id_path);
  }
  device.absolute_path("state-dir", o.device.state_dir);

  OptionReader dbus(values, "dbus", problems);
  dbus.choice(
      "bus", o.dbus_bus,
      {{"system", BusKind::kSystem}, {"session", BusKind::kSession}, {"none", BusKind::kNone}});
  if (o.server.auth == AuthMode::kMender && o.dbus_bus == BusKind::kNone)
    server.problem("auth",
                   "mender takes the token from D-Bus and needs dbus.bus = system or session");

  OptionReader log_section(values, "log", problems);
  if (auto level = log_section.text("level")) {
    if (auto parsed = log::parse_level(*level))
      o.log_level = *parsed;
    else
      log_section.problem(
          "level", "unknown choice '" + *level + "' (one of: error, warn, info, debug, trace)");
  }
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, const char* const argv[],
                                     std::span<const OptionSection> plugin_sections,
                                     const std::string& machine_id_path) {
  ParsedCommandLine result;
  std::vector<OptionSection> sections = daemon_sections();
  sections.insert(sections.end(), plugin_sections.begin(), plugin_sections.end());
  // Boost reports through exceptions; they stop here and become problems.
  try {
    const po::options_description described = describe(sections);
    po::options_description all;
    all.add(general_options()).add(described);

    po::variables_map values;
    auto parsed =
        po::command_line_parser(argc, argv)
            .options(all)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .allow_unregistered()
            .run();
    for (const auto& unknown : po::collect_unrecognized(parsed.options, po::include_positional))
      result.problems.push_back("unknown option '" + unknown + "'");
    // Stored first, so the command line wins over the file (Boost keeps the first value).
    po::store(parsed, values);

    if (values.count("help") != 0) {
      std::ostringstream help;
      help << "Usage: tetherd [--config FILE] [--section.key=value ...]\n\n" << all;
      result.action = ParsedCommandLine::Action::kHelp;
      result.help_text = help.str();
      result.problems.clear();
      return result;
    }
    if (values.count("version") != 0) {
      result.action = ParsedCommandLine::Action::kVersion;
      result.problems.clear();
      return result;
    }
    if (values.count("check-config") != 0) result.action = ParsedCommandLine::Action::kCheckConfig;

    if (values.count("config") != 0) {
      const std::string file = values["config"].as<std::string>();
      result.options.config_file = file;
      OptionReader(result.values, "", result.problems).check_file("config", file);
      std::ifstream in(file);
      if (in.good()) {
        try {
          auto from_file = po::parse_config_file(in, described, true);
          for (const auto& option : from_file.options) {
            if (option.unregistered)
              result.problems.push_back("config: " + file + ": unknown option '" +
                                        option.string_key + "'");
          }
          po::store(from_file, values);
        } catch (const po::error& e) {
          result.problems.push_back("config: " + file + ": " + e.what());
        }
      }
    }
    for (const auto& [name, value] : values) {
      if (name == "config" || value.empty()) continue;
      if (const auto* text = boost::any_cast<std::string>(&value.value()))
        result.values.emplace(name, *text);
    }
    validate_daemon(result.values, machine_id_path, result);
    for (const OptionSection& section : plugin_sections) {
      if (!section.check) continue;
      OptionReader reader(result.values, section.name, result.problems);
      section.check(reader);
    }
  } catch (const po::error& e) {
    result.problems.push_back(e.what());
  } catch (const std::exception& e) {
    result.problems.push_back(std::string("options: ") + e.what());
  }
  return result;
}

}  // namespace tether::daemon
