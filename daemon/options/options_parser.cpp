#include "daemon/options/options_parser.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>

#include "daemon/transport/proxy_config.hpp"
#include "daemon/transport/server_url.hpp"

namespace po = boost::program_options;

namespace tether::daemon {
namespace {

// Upper bounds keep every number a peer-independent but user-supplied value
// within what the daemon can represent and schedule.
constexpr std::size_t kMaxCount = 1u << 30;
constexpr double kMaxSeconds = 10.0 * 365 * 24 * 3600;
constexpr std::size_t kMaxMessageLimit = std::size_t{256} * 1024 * 1024;

// One entry per section option: its name, default (as text, shown by --help) and meaning.
struct OptionSpec {
  const char* name;
  const char* default_text;  // nullptr: no default
  const char* meaning;
};

const OptionSpec kSectionOptions[] = {
    {"server.url", nullptr, "wss://host[:port][/path] of the backend (required)"},
    {"server.token-file", nullptr, "file holding the bearer token; re-read on every connect"},
    {"server.auth", "token", "token, mender or none"},
    {"server.ca-file", nullptr, "PEM bundle that verifies the server (default: system CAs)"},
    {"server.cert-file", nullptr, "client certificate (PEM) for mutual TLS"},
    {"server.key-file", nullptr, "client key (PEM) for mutual TLS"},
    {"server.proxy", nullptr, "http://host:port of an HTTP CONNECT proxy (default: https_proxy)"},
    {"server.ping-interval", "30", "seconds between WebSocket pings"},
    {"server.pong-timeout", "15", "seconds without a pong or any frame before the link is dead"},
    {"server.backoff-max", "300", "seconds, cap of the reconnect backoff"},
    {"server.auth-backoff", "60", "seconds to wait after a 401/403"},
    {"server.stable-after", "30", "seconds a connection must stay up to reset the backoff"},
    {"server.max-message", "1048576", "bytes, inbound message limit"},
    {"device.id", nullptr, "device identity (default: contents of /etc/machine-id)"},
    {"device.state-dir", "/var/lib/tether", "durable state directory"},
    {"dbus.bus", "system", "system, session or none"},
    {"shell.enabled", "true", "serve remote shells"},
    {"shell.command", "/bin/sh", "absolute path of the shell"},
    {"shell.user", nullptr, "user the shells run as (default: the daemon's user)"},
    {"shell.max-sessions", "16", "shells in total"},
    {"shell.max-per-user", "4", "shells per backend user"},
    {"shell.idle-timeout", "600", "seconds without input before a shell is stopped; 0 = never"},
    {"shell.ping-interval", "60", "seconds between shell health pings; 0 = off"},
    // shellcg (issue #10): how a session's processes are contained.
    {"shell.containment", "auto", "auto, cgroup or process-tree (see docs/shell.md)"},
    {"monitoring.max-bytes", "16777216", "bytes of stored, unacknowledged records"},
    {"monitoring.window", "256", "records in flight without an ack"},
    {"monitoring.max-record", "65536", "bytes, largest single record"},
    {"update.installer", nullptr, "executable that installs an artifact"},
    {"update.public-key", nullptr, "PEM public key that artifacts must be signed with"},
    {"log.level", "info", "error, warn, info, debug or trace"},
};

po::options_description section_options() {
  po::options_description desc(
      "Options (command line --section.key=value, or [section] key = "
      "value in the --config file)");
  for (const auto& spec : kSectionOptions) {
    std::string meaning = spec.meaning;
    if (spec.default_text != nullptr) meaning += " [" + std::string(spec.default_text) + "]";
    desc.add_options()(spec.name, po::value<std::string>()->value_name("VALUE"), meaning.c_str());
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

// Collects problems while converting the textual values into DaemonOptions.
class Validator {
 public:
  Validator(const po::variables_map& values, std::vector<std::string>& problems)
      : values_(values), problems_(problems) {}

  std::optional<std::string> text(const char* name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    return it->second.as<std::string>();
  }

  void problem(const char* name, const std::string& what) {
    problems_.push_back(std::string(name) + ": " + what);
  }

  void string(const char* name, std::string& out) {
    if (auto v = text(name)) out = *v;
  }

  void count(const char* name, std::size_t& out, std::size_t min = 0, std::size_t max = kMaxCount) {
    auto v = text(name);
    if (!v) return;
    const std::string& s = *v;
    if (!s.empty() && s[0] == '-' && s.find_first_not_of("0123456789", 1) == std::string::npos &&
        s.size() > 1) {
      problem(name, "must not be negative: '" + s + "'");
      return;
    }
    std::size_t parsed = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
    if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size()) {
      problem(name, "not a number: '" + s + "'");
      return;
    }
    if (ec == std::errc::result_out_of_range || parsed > max) {
      problem(name, "too large: '" + s + "' (at most " + std::to_string(max) + ")");
      return;
    }
    if (parsed < min) {
      problem(name, "must be at least " + std::to_string(min) + ": '" + s + "'");
      return;
    }
    out = parsed;
  }

  // Seconds, whole or with a fraction ("0.25"); `positive` refuses zero.
  void seconds(const char* name, std::chrono::milliseconds& out, bool positive) {
    auto v = text(name);
    if (!v) return;
    const std::string& s = *v;
    const bool well_formed = !s.empty() &&
                             s.find_first_not_of("0123456789.-") == std::string::npos &&
                             std::count(s.begin(), s.end(), '.') <= 1 &&
                             s.find('-', 1) == std::string::npos && s != "." && s != "-";
    double parsed = 0;
    if (well_formed) {
      std::istringstream in(s);
      in >> parsed;
      if (!in || !in.eof()) parsed = std::numeric_limits<double>::quiet_NaN();
    }
    if (!well_formed || parsed != parsed) {
      problem(name, "not a number of seconds: '" + s + "'");
      return;
    }
    if (parsed < 0 || s[0] == '-') {
      problem(name, "must not be negative: '" + s + "'");
      return;
    }
    if (positive && parsed < 0.001) {
      problem(name, "must be greater than 0: '" + s + "'");
      return;
    }
    if (parsed > kMaxSeconds) {
      problem(name, "too large: '" + s + "'");
      return;
    }
    out = std::chrono::milliseconds(std::llround(parsed * 1000.0));
  }

  void whole_seconds(const char* name, std::chrono::seconds& out) {
    std::size_t value = static_cast<std::size_t>(out.count());
    count(name, value, 0, static_cast<std::size_t>(kMaxSeconds));
    out = std::chrono::seconds(static_cast<long long>(value));
  }

  void boolean(const char* name, bool& out) {
    auto v = text(name);
    if (!v) return;
    if (*v == "true" || *v == "yes" || *v == "on" || *v == "1") {
      out = true;
    } else if (*v == "false" || *v == "no" || *v == "off" || *v == "0") {
      out = false;
    } else {
      problem(name, "not a boolean (true/false): '" + *v + "'");
    }
  }

  template <typename T>
  void choice(const char* name, T& out, std::initializer_list<std::pair<const char*, T>> choices) {
    auto v = text(name);
    if (!v) return;
    std::string known;
    for (const auto& [label, value] : choices) {
      if (*v == label) {
        out = value;
        return;
      }
      known += known.empty() ? label : std::string(", ") + label;
    }
    problem(name, "unknown choice '" + *v + "' (one of: " + known + ")");
  }

  // A file that must exist and be readable now (certificates, keys, the config).
  void existing_file(const char* name, std::string& out) {
    auto v = text(name);
    if (!v) return;
    out = *v;
    check_file(name, *v);
  }

  void check_file(const char* name, const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      problem(name, "cannot use '" + path + "': " + std::strerror(errno));
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      problem(name, "not a regular file: '" + path + "'");
      return;
    }
    std::ifstream probe(path);
    if (!probe.good() || ::access(path.c_str(), R_OK) != 0) {
      problem(name, "cannot read '" + path + "': " + std::strerror(errno != 0 ? errno : EACCES));
    }
  }

 private:
  const po::variables_map& values_;
  std::vector<std::string>& problems_;
};

std::string read_machine_id(const std::string& path) {
  std::ifstream in(path);
  std::string id;
  std::getline(in, id);
  while (!id.empty() && (id.back() == ' ' || id.back() == '\r' || id.back() == '\n')) id.pop_back();
  return id;
}

void validate(const po::variables_map& values, const std::string& machine_id_path,
              ParsedCommandLine& result) {
  DaemonOptions& o = result.options;
  Validator v(values, result.problems);

  // [server]
  if (auto url = v.text("server.url")) {
    o.server.url = *url;
    if (auto parsed = transport::parse_server_url(*url); !parsed)
      v.problem("server.url", parsed.error().message());
  } else {
    v.problem("server.url", "required (for example --server.url=wss://backend.example.com)");
  }
  v.string("server.token-file", o.server.token_file);
  v.choice("server.auth", o.server.auth,
           {{"token", AuthMode::kToken}, {"mender", AuthMode::kMender}, {"none", AuthMode::kNone}});
  v.existing_file("server.ca-file", o.server.ca_file);
  v.existing_file("server.cert-file", o.server.cert_file);
  v.existing_file("server.key-file", o.server.key_file);
  if (!o.server.cert_file.empty() && o.server.key_file.empty())
    v.problem("server.cert-file", "given without server.key-file");
  if (o.server.cert_file.empty() && !o.server.key_file.empty())
    v.problem("server.key-file", "given without server.cert-file");
  if (auto proxy = v.text("server.proxy")) {
    o.server.proxy = *proxy;
    if (auto parsed = transport::parse_proxy_url(*proxy); !parsed)
      v.problem("server.proxy", parsed.error().message());
  }
  v.seconds("server.ping-interval", o.server.ping_interval, true);
  v.seconds("server.pong-timeout", o.server.pong_timeout, true);
  v.seconds("server.backoff-max", o.server.backoff_max, true);
  v.seconds("server.auth-backoff", o.server.auth_backoff, true);
  v.seconds("server.stable-after", o.server.stable_after, false);
  v.count("server.max-message", o.server.max_message, 1, kMaxMessageLimit);

  // [device]
  if (auto id = v.text("device.id")) {
    o.device.id = *id;
  } else {
    o.device.id = read_machine_id(machine_id_path);
  }
  v.string("device.state-dir", o.device.state_dir);
  if (!o.device.state_dir.empty() && o.device.state_dir.front() != '/')
    v.problem("device.state-dir", "must be an absolute path: '" + o.device.state_dir + "'");

  // [dbus]
  v.choice(
      "dbus.bus", o.dbus_bus,
      {{"system", BusKind::kSystem}, {"session", BusKind::kSession}, {"none", BusKind::kNone}});

  // [shell]
  v.boolean("shell.enabled", o.shell.enabled);
  v.string("shell.command", o.shell.command);
  if (o.shell.command.empty() || o.shell.command.front() != '/')
    v.problem("shell.command", "must be an absolute path: '" + o.shell.command + "'");
  v.string("shell.user", o.shell.user);
  if (!o.shell.user.empty() && ::getpwnam(o.shell.user.c_str()) == nullptr)
    v.problem("shell.user", "unknown user '" + o.shell.user + "'");
  v.count("shell.max-sessions", o.shell.max_sessions);
  v.count("shell.max-per-user", o.shell.max_per_user);
  v.whole_seconds("shell.idle-timeout", o.shell.idle_timeout);
  v.whole_seconds("shell.ping-interval", o.shell.ping_interval);
  // shellcg (issue #10): containment of a session's processes.
  v.choice("shell.containment", o.shell.containment,
           {{"auto", plugins::shell::ContainmentMode::kAuto},
            {"cgroup", plugins::shell::ContainmentMode::kCgroup},
            {"process-tree", plugins::shell::ContainmentMode::kProcessTree}});

  // [monitoring]
  v.count("monitoring.max-bytes", o.monitoring.max_bytes, 1,
          std::numeric_limits<std::size_t>::max());
  v.count("monitoring.window", o.monitoring.window, 1);
  v.count("monitoring.max-record", o.monitoring.max_record, 1);

  // [update]
  if (auto installer = v.text("update.installer")) {
    o.update.installer = *installer;
    if (installer->front() != '/')
      v.problem("update.installer", "must be an absolute path: '" + *installer + "'");
    else if (::access(installer->c_str(), X_OK) != 0)
      v.problem("update.installer", "cannot execute '" + *installer + "': " + std::strerror(errno));
  }
  v.existing_file("update.public-key", o.update.public_key);

  // [log]
  if (auto level = v.text("log.level")) {
    if (auto parsed = log::parse_level(*level))
      o.log_level = *parsed;
    else
      v.problem("log.level",
                "unknown choice '" + *level + "' (one of: error, warn, info, debug, trace)");
  }
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, const char* const argv[],
                                     const std::string& machine_id_path) {
  ParsedCommandLine result;
  // Boost reports through exceptions; they stop here and become problems.
  try {
    const po::options_description sections = section_options();
    po::options_description all;
    all.add(general_options()).add(sections);

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
      Validator(values, result.problems).check_file("config", file);
      std::ifstream in(file);
      if (in.good()) {
        try {
          auto from_file = po::parse_config_file(in, sections, true);
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
    validate(values, machine_id_path, result);
  } catch (const po::error& e) {
    result.problems.push_back(e.what());
  } catch (const std::exception& e) {
    result.problems.push_back(std::string("options: ") + e.what());
  }
  return result;
}

}  // namespace tether::daemon
