#include "hub/config.hpp"

#include <boost/program_options.hpp>
#include <exception>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>
#include <utility>

namespace tether::hub {

namespace po = boost::program_options;

namespace {

// Boost.Program_options reports through exceptions; they are caught here, at the
// edge, and never cross into the event loop.
template <typename T>
Status copy_count(const po::variables_map& vm, const char* key, T& out, std::uint64_t min,
                  std::uint64_t max) {
  if (!vm.count(key)) return Status::Ok();
  const long long v = vm[key].as<long long>();
  if (v < 0 || static_cast<std::uint64_t>(v) < min || static_cast<std::uint64_t>(v) > max) {
    return Error(std::string("option '") + key + "': " + std::to_string(v) + " is out of range [" +
                 std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = static_cast<T>(v);
  return Status::Ok();
}

// A positive real number in [min, max] (days or seconds; NaN is out of range).
Status copy_seconds(const po::variables_map& vm, const char* key, double& out, double min,
                    double max) {
  if (!vm.count(key)) return Status::Ok();
  const double v = vm[key].as<double>();
  if (!(v >= min && v <= max)) {
    return Error(std::string("option '") + key + "': " + std::to_string(v) + " is out of range [" +
                 std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = v;
  return Status::Ok();
}

Result<LogLevel> parse_level(const std::string& s) {
  if (s == "error") return LogLevel::kError;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "info") return LogLevel::kInfo;
  if (s == "debug") return LogLevel::kDebug;
  return Error("option 'log.level': unknown level '" + s + "' (error, warn, info, debug)");
}

// bus.url: empty (one instance) or nats://HOST:PORT. Checked here so that a typo
// fails at start rather than as an endless reconnect loop.
Status check_bus_url(const std::string& url) {
  if (url.empty()) return Status::Ok();
  constexpr std::string_view kScheme = "nats://";
  const auto bad = [&](const std::string& why) {
    return Error("option 'bus.url': '" + url.substr(0, 256) + "' " + why);
  };
  if (url.size() > 512) return bad("is too long (at most 512 bytes)");
  if (url.rfind(kScheme, 0) != 0) return bad("is not nats://HOST:PORT");
  const std::string rest = url.substr(kScheme.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("has no HOST:PORT");
  for (const char ch : rest.substr(0, colon)) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '[' || ch == ']' ||
                    ch == ':';
    if (!ok) return bad("has a character a host name cannot have");
  }
  const std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
      std::stoul(port) > 65535) {
    return bad("has no port in [1, 65535]");
  }
  return Status::Ok();
}

}  // namespace

Result<Invocation> parse_command_line(int argc, const char* const argv[]) {
  po::options_description cmd("Commands");
  cmd.add_options()("help", "show this help")("version", "print the version")(
      "config", po::value<std::string>(), "INI file with the settings below")(
      "add-device", po::value<std::string>(),
      "register device ID (or give it a new token) and exit; needs --token-file")(
      "token-file", po::value<std::string>(),
      "with --add-device: the device's token; generated (mode 0600) when the file is "
      "missing or empty")(
      "add-devices", po::value<long long>(),
      "register N devices named PREFIX1..PREFIXN (zero-padded) with fresh tokens in one "
      "transaction and exit; needs --tokens-out")(
      "device-prefix", po::value<std::string>(),
      "with --add-devices: the id prefix (default sim-)")(
      "tokens-out", po::value<std::string>(),
      "with --add-devices: write 'ID TOKEN' lines here (mode 0600; tether-sim --tokens)")(
      "hash-password", "read a password on stdin, print its operator.password-hash, exit")(
      "add-operator", po::value<std::string>(),
      "create operator account NAME (password on stdin) and exit; needs --role")(
      "role", po::value<std::string>(), "with --add-operator: viewer, operator or admin");

  po::options_description settings("Settings ([section] key in the config file)");
  settings.add_options()("listen.address", po::value<std::string>(),
                         "address to listen on (default 127.0.0.1)")(
      "listen.port", po::value<long long>(), "TCP port, 0 = any free one (default 8443)")(
      "tls.cert-file", po::value<std::string>(), "PEM server certificate (chain)")(
      "tls.key-file", po::value<std::string>(), "PEM private key")(
      "hub.state-dir", po::value<std::string>(),
      "directory of the SQLite databases and update artifacts (default /var/lib/tether-hub)")(
      "hub.web-root", po::value<std::string>(), "directory of the built web UI")(
      "hub.session-ttl", po::value<long long>(),
      "operator login lifetime, seconds (default 43200)")(
      "hub.ping-interval", po::value<long long>(),
      "seconds of silence before the hub pings a peer (default 30)")(
      "operator.username", po::value<std::string>(), "operator login name")(
      "operator.password-hash", po::value<std::string>(), "output of --hash-password")(
      "limits.max-message", po::value<long long>(),
      "bytes, largest inbound message (default 1048576)")("limits.operators-per-device",
                                                          po::value<long long>(), "default 8")(
      "limits.sessions-per-operator", po::value<long long>(), "default 4")(
      "limits.sessions-per-device", po::value<long long>(), "default 16")(
      "limits.max-connections", po::value<long long>(), "default 16384")(
      "log.level", po::value<std::string>(), "error, warn, info (default), debug")(
      "monitoring.retention-days", po::value<double>(),
      "days of monitoring history kept (default 30; fractions allowed)")(
      "monitoring.prune-interval", po::value<double>(),
      "seconds between prunes of old history (default 3600)")(
      "monitoring.max-records-per-stream", po::value<long long>(),
      "records kept per device and stream, oldest pruned first (default 1000000)")(
      "update.artifact-dir", po::value<std::string>(),
      "folder of update artifacts served to devices (default: none, no offers)")(
      "update.signing-key", po::value<std::string>(),
      "PEM private key (Ed25519, ECDSA P-256, RSA) signing each artifact's SHA-256")(
      "update.public-url", po::value<std::string>(),
      "https://host[:port] devices reach the hub at (default https://localhost:PORT)")(
      "bus.url", po::value<std::string>(),
      "nats://host:port of the NATS server several hub instances share (default: none, "
      "one instance)")(
      "store.url", po::value<std::string>(),
      "sqlite:DIR or postgresql://user@host/db: where the hub keeps its state (default "
      "sqlite:<hub.state-dir>)");

  po::options_description all;
  all.add(cmd).add(settings);

  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) return Error("option 'config': cannot open " + path);
      po::store(po::parse_config_file(in, settings, false), vm);
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    return Error(e.what());
  }

  Invocation inv;
  if (vm.count("help")) {
    std::ostringstream os;
    os << "tether-hub: the reference backend and operator web UI for tetherd\n\n"
       << "  tether-hub --config FILE\n"
       << "  tether-hub --config FILE --add-device ID --token-file FILE\n"
       << "  tether-hub --config FILE --add-devices N --tokens-out FILE [--device-prefix P]\n"
       << "  tether-hub --hash-password < password\n"
       << "  tether-hub --config FILE --add-operator NAME --role ROLE < password\n\n"
       << all;
    inv.mode = Invocation::Mode::kHelp;
    inv.help_text = os.str();
    return inv;
  }
  if (vm.count("version")) {
    inv.mode = Invocation::Mode::kVersion;
    return inv;
  }

  HubConfig& c = inv.config;
  auto str = [&](const char* key, std::string& out) {
    if (vm.count(key)) out = vm[key].as<std::string>();
  };
  str("listen.address", c.listen_address);
  str("tls.cert-file", c.cert_file);
  str("tls.key-file", c.key_file);
  str("hub.state-dir", c.state_dir);
  str("hub.web-root", c.web_root);
  str("operator.username", c.operator_username);
  str("operator.password-hash", c.operator_password_hash);
  str("update.artifact-dir", c.update.artifact_dir);
  str("update.signing-key", c.update.signing_key);
  str("update.public-url", c.update.public_url);
  str("bus.url", c.bus_url);
  if (auto s = check_bus_url(c.bus_url); !s.ok()) return s.error();
  {
    // store.url: parsed here so a typo fails at start; the error never echoes it
    // (a postgresql:// URL may carry a password).
    const std::string url =
        vm.count("store.url") ? vm["store.url"].as<std::string>() : "sqlite:" + c.state_dir;
    auto store = sql::parse_store_url(url);
    if (!store.ok()) {
      // The parser's sentences start with the option's name; say it is the option.
      constexpr std::string_view kName = "store.url";
      std::string why = store.error().message();
      if (why.rfind(kName, 0) == 0) why.erase(0, kName.size());
      if (why.empty() || why.front() != ' ') why.insert(0, ": ");
      return Error(ErrorCode::kInvalidArgument, "option 'store.url'" + why);
    }
    c.store = std::move(*store);
  }
  constexpr std::uint64_t kBig = std::numeric_limits<std::uint32_t>::max();
  for (const Status& s : {
           copy_count(vm, "listen.port", c.listen_port, 0, 65535),
           copy_count(vm, "hub.session-ttl", c.session_ttl_s, 60, kBig),
           copy_count(vm, "hub.ping-interval", c.ping_interval_s, 1, 3600),
           copy_count(vm, "limits.max-message", c.limits.max_message, 1024, 64u << 20),
           copy_count(vm, "limits.operators-per-device", c.limits.operators_per_device, 1, 1024),
           copy_count(vm, "limits.sessions-per-operator", c.limits.sessions_per_operator, 1, 1024),
           copy_count(vm, "limits.sessions-per-device", c.limits.sessions_per_device, 1, 4096),
           copy_count(vm, "limits.max-connections", c.limits.max_connections, 4, 65536),
       }) {
    if (!s.ok()) return s.error();
  }
  if (auto s =
          copy_seconds(vm, "monitoring.retention-days", c.monitoring.retention_days, 1e-6, 36500);
      !s.ok()) {
    return s.error();
  }
  if (auto s =
          copy_seconds(vm, "monitoring.prune-interval", c.monitoring.prune_interval_s, 0.01, 86400);
      !s.ok()) {
    return s.error();
  }
  if (auto s = copy_count(vm, "monitoring.max-records-per-stream",
                          c.monitoring.max_records_per_stream, 1, 1000000000);
      !s.ok()) {
    return s.error();
  }
  if (vm.count("log.level")) {
    auto level = parse_level(vm["log.level"].as<std::string>());
    if (!level.ok()) return level.error();
    c.log_level = *level;
  }

  if (vm.count("hash-password")) {
    inv.mode = Invocation::Mode::kHashPassword;
  } else if (vm.count("add-operator")) {
    inv.mode = Invocation::Mode::kAddOperator;
    inv.add_operator_name = vm["add-operator"].as<std::string>();
    if (!vm.count("role")) return Error("option '--add-operator' needs --role");
    inv.add_operator_role = vm["role"].as<std::string>();
  } else if (vm.count("add-devices")) {
    inv.mode = Invocation::Mode::kAddDevices;
    const long long n = vm["add-devices"].as<long long>();
    if (n < 1 || n > 1000000) {
      return Error("option '--add-devices': " + std::to_string(n) +
                   " is out of range [1, 1000000]");
    }
    inv.add_devices = static_cast<std::size_t>(n);
    if (vm.count("device-prefix")) inv.device_prefix = vm["device-prefix"].as<std::string>();
    if (!vm.count("tokens-out")) return Error("option '--add-devices' needs --tokens-out");
    inv.tokens_out = vm["tokens-out"].as<std::string>();
  } else if (vm.count("add-device")) {
    inv.mode = Invocation::Mode::kAddDevice;
    inv.add_device_id = vm["add-device"].as<std::string>();
    if (!vm.count("token-file")) return Error("option '--add-device' needs --token-file");
    inv.token_file = vm["token-file"].as<std::string>();
  }
  return inv;
}

std::vector<std::string> validate_for_serving(const HubConfig& c) {
  std::vector<std::string> problems;
  if (c.cert_file.empty()) problems.emplace_back("option 'tls.cert-file' is required");
  if (c.key_file.empty()) problems.emplace_back("option 'tls.key-file' is required");
  if (c.operator_username.empty()) problems.emplace_back("option 'operator.username' is required");
  if (c.operator_password_hash.empty())
    problems.emplace_back("option 'operator.password-hash' is required (see --hash-password)");
  for (const auto* f : {&c.cert_file, &c.key_file}) {
    if (!f->empty() && !std::ifstream(*f)) problems.emplace_back("cannot read " + *f);
  }
  return problems;
}

}  // namespace tether::hub
