// tether-hub: the composition root. Parses the command line, then either registers
// a device, hashes a password, runs the operator CLI, or opens the store and serves.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "hub/auth.hpp"
#include "hub/cli/cli_main.hpp"
#include "hub/cluster/bus_devices.hpp"
#include "hub/cluster/bus_operators.hpp"
#include "hub/cluster/nats_bus.hpp"
#include "hub/config.hpp"
#include "hub/core.hpp"
#include "hub/operators/accounts.hpp"
#include "hub/server/server.hpp"
#include "hub/services/update_service.hpp"
#include "hub/store/sql_command_store.hpp"
#include "hub/store/sql_config_store.hpp"
#include "hub/store/sql_device_store.hpp"
#include "hub/store/sql_monitoring_store.hpp"
#include "hub/store/sql_operator_store.hpp"

#ifndef TETHER_HUB_VERSION
#define TETHER_HUB_VERSION "0.0.0"
#endif
#ifndef TETHER_HUB_WEB_ROOT
#define TETHER_HUB_WEB_ROOT ""
#endif

namespace {

using namespace tether;
using namespace tether::hub;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

// Reads the token from `path`, or makes one and writes it there (0600) when the
// file is missing or empty.
Result<std::string> read_or_make_token(const std::string& path) {
  {
    std::ifstream in(path);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      std::string token = trim(ss.str());
      if (!token.empty()) return token;
    }
  }
  auto token = random_hex(32);
  if (!token.ok()) return token.error();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error("writing " + path + ": " + std::strerror(errno));
  const std::string line = *token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return Error("writing " + path + ": short write");
  return *token;
}

int add_device(const Invocation& inv, const Logger& log) {
  if (!valid_device_id(inv.add_device_id)) {
    log.error("option '--add-device': '" + inv.add_device_id +
              "' is not a valid device id (1-128 of A-Z a-z 0-9 . _ : -)");
    return 2;
  }
  auto token = read_or_make_token(inv.token_file);
  if (!token.ok()) {
    log.error(token.error().wrap("option '--token-file'").message());
    return 2;
  }
  auto store = SqlDeviceStore::open(inv.config.store);
  if (!store.ok()) {
    log.error(store.error().message());
    return 1;
  }
  auto operators = SqlOperatorStore::open(inv.config.store);
  if (!operators.ok()) {
    log.error(operators.error().message());
    return 1;
  }
  const bool known =
      (*store)->get(inv.add_device_id).ok() && (*store)->get(inv.add_device_id)->has_value();
  const char* action = known ? "device.token" : "device.register";
  if (auto s = (*store)->put_device(inv.add_device_id, sha256_hex(*token), now_ms()); !s.ok()) {
    log.error(s.error().wrap("registering " + inv.add_device_id).message());
    (*operators)->record({"(command line)", action, inv.add_device_id, "failed", {}, {}, 0});
    (void)(*operators)->flush();
    return 1;
  }
  (*operators)->record({"(command line)", action, inv.add_device_id, "ok", {}, {}, 0});
  if (auto s = (*operators)->flush(); !s.ok()) {
    log.error(s.error().wrap("writing the audit trail").message());
  }
  log.info("device " + inv.add_device_id + " registered; its token is in " + inv.token_file);
  return 0;
}

// Registers inv.add_devices devices with fresh random tokens. The tokens go to
// --tokens-out first (0600, written in full and synced), the hashes to the store
// after, in one transaction: a failure leaves either no device or every device
// registered, and never a registered token nobody has.
int add_devices(const Invocation& inv, const Logger& log) {
  const std::size_t width = std::to_string(inv.add_devices).size();
  std::vector<DeviceRegistration> devices;
  devices.reserve(inv.add_devices);
  std::string lines;
  for (std::size_t i = 1; i <= inv.add_devices; ++i) {
    std::string number = std::to_string(i);
    std::string id = inv.device_prefix + std::string(width - number.size(), '0') + number;
    if (!valid_device_id(id)) {
      log.error("option '--device-prefix': '" + id +
                "' is not a valid device id (1-128 of A-Z a-z 0-9 . _ : -)");
      return 2;
    }
    auto token = random_hex(32);
    if (!token.ok()) {
      log.error(token.error().message());
      return 1;
    }
    lines += id + " " + *token + "\n";
    devices.push_back({std::move(id), sha256_hex(*token)});
  }
  const int fd = ::open(inv.tokens_out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    log.error("option '--tokens-out': cannot write " + inv.tokens_out + ": " +
              std::strerror(errno));
    return 2;
  }
  const bool written =
      ::write(fd, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    log.error("option '--tokens-out': writing " + inv.tokens_out + " failed");
    return 1;
  }
  auto store = SqlDeviceStore::open(inv.config.store);
  if (!store.ok()) {
    log.error(store.error().message());
    return 1;
  }
  if (auto s = (*store)->put_devices(devices, now_ms()); !s.ok()) {
    log.error(
        s.error().wrap("registering " + std::to_string(devices.size()) + " devices").message());
    return 1;
  }
  log.info(std::to_string(devices.size()) + " devices registered (" + devices.front().id + " .. " +
           devices.back().id + "); their tokens are in " + inv.tokens_out);
  return 0;
}

std::optional<std::string> password_from_stdin(const Logger& log) {
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    log.error("empty password on stdin");
    return std::nullopt;
  }
  return password;
}

int add_operator(const Invocation& inv, const Logger& log) {
  const auto role = parse_role(inv.add_operator_role);
  if (!role) {
    log.error("option '--role': '" + inv.add_operator_role +
              "' is not a role (viewer, operator, admin)");
    return 2;
  }
  if (!valid_account_name(inv.add_operator_name)) {
    log.error("option '--add-operator': '" + inv.add_operator_name +
              "' is not a valid account name (1-64 of A-Z a-z 0-9 . _ @ -)");
    return 2;
  }
  const auto password = password_from_stdin(log);
  if (!password) return 2;
  if (password->size() < 8) {
    log.error("a password has at least 8 bytes");
    return 2;
  }
  auto hash = hash_password(*password);
  if (!hash.ok()) {
    log.error(hash.error().message());
    return 1;
  }
  auto store = SqlOperatorStore::open(inv.config.store);
  if (!store.ok()) {
    log.error(store.error().message());
    return 1;
  }
  Accounts accounts(**store, inv.config.operator_username, inv.config.operator_password_hash);
  if (auto s = accounts.load(); !s.ok()) {
    log.error(s.error().message());
    return 1;
  }
  if (auto s = accounts.create(inv.add_operator_name, *role, *hash); !s.ok()) {
    log.error(s.error().wrap("adding operator " + inv.add_operator_name).message());
    return 1;
  }
  (*store)->record({"(command line)",
                    "account.create",
                    {},
                    "ok",
                    inv.add_operator_name + " as " + std::string(role_name(*role)),
                    {},
                    0});
  if (auto s = (*store)->flush(); !s.ok()) {
    log.error(s.error().wrap("writing the audit trail").message());
  }
  log.info("operator " + inv.add_operator_name + " added as " + std::string(role_name(*role)));
  return 0;
}

int hash_password_from_stdin(const Logger& log) {
  const auto password = password_from_stdin(log);
  if (!password) return 2;
  auto hash = hash_password(*password);
  if (!hash.ok()) {
    log.error(hash.error().message());
    return 1;
  }
  std::cout << *hash << "\n";
  return 0;
}

// Write batches fail on the store's writer thread; the logger writes one line
// with one write(2), so logging from there is safe.
class StoreErrorLog final : public WriteErrorSink {
 public:
  explicit StoreErrorLog(const Logger& log) : log_(log) {}
  void write_failed(const Error& error) override { log_.error(error.wrap("store").message()); }

 private:
  const Logger& log_;
};

// One descriptor per connection plus the hub's own (stdio, signalfd, the store's
// database and WAL files, lws's): set the soft open-file limit to what
// limits.max-connections needs (raising it up to the hard one, as a server with
// thousands of devices must), and say so when that still does not fit (systemd:
// LimitNOFILE in tether-hub.service). The soft limit is also how max-connections
// is enforced: lws sizes its descriptor table by it (a smaller table of its own,
// fd_limit_per_thread, would make lws look every event's descriptor up by a
// linear search, which at 10 000 devices was most of the hub's CPU).
void raise_fd_limit(const HubConfig& config, const Logger& log) {
  constexpr rlim_t kOwnDescriptors = 64;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t needed = static_cast<rlim_t>(config.limits.max_connections) + kOwnDescriptors;
  const rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
  if (limit.rlim_cur != wanted) {
    limit.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    log.warn("the open-file limit (" + std::to_string(limit.rlim_cur) +
             ") is below limits.max-connections + " + std::to_string(kOwnDescriptors) +
             "; connections beyond it will be refused (raise LimitNOFILE)");
  }
}

int serve(Invocation& inv, const Logger& log) {
  HubConfig& config = inv.config;
  if (config.web_root.empty()) config.web_root = TETHER_HUB_WEB_ROOT;
  const auto problems = validate_for_serving(config);
  if (!problems.empty()) {
    for (const auto& p : problems) log.error(p);
    return 2;
  }
  struct stat st {};
  if (::stat((config.web_root + "/index.html").c_str(), &st) != 0) {
    log.warn("no web UI at " + config.web_root + " (hub.web-root); the API still works");
  }
  raise_fd_limit(config, log);
  StoreErrorLog store_errors(log);
  auto store = SqlDeviceStore::open(config.store, &store_errors);
  if (!store.ok()) {
    log.error(store.error().message());
    return 1;
  }
  auto monitoring = SqlMonitoringStore::open(config.store, config.monitoring);
  if (!monitoring.ok()) {
    log.error(monitoring.error().message());
    return 1;
  }
  auto config_store = SqlConfigStore::open(config.store);
  if (!config_store.ok()) {
    log.error(config_store.error().message());
    return 1;
  }
  auto commands = SqlCommandStore::open(config.store);
  if (!commands.ok()) {
    log.error(commands.error().message());
    return 1;
  }
  auto operator_store = SqlOperatorStore::open(config.store);
  if (!operator_store.ok()) {
    log.error(operator_store.error().message());
    return 1;
  }
  Accounts accounts(**operator_store, config.operator_username, config.operator_password_hash);
  if (auto s = accounts.load(); !s.ok()) {
    log.error(s.error().message());
    return 1;
  }
  auto core =
      HubCore::create(**store, **monitoring, **config_store, **commands, config.limits, log);
  if (!core.ok()) {
    log.error(core.error().message());
    return 1;
  }
  (*core)->set_audit_sink(operator_store->get());
  // bus.url: this instance shares its devices with the others on the bus.
  std::unique_ptr<cluster::NatsBus> bus;
  std::unique_ptr<cluster::BusDevices> bus_devices;
  std::unique_ptr<cluster::BusOperators> bus_operators;
  if (!config.bus_url.empty()) {
    auto instance_id = random_hex(8);
    auto connected = instance_id.ok()
                         ? cluster::NatsBus::connect(config.bus_url, (*core)->inbox(), log)
                         : Result<std::unique_ptr<cluster::NatsBus>>(instance_id.error());
    if (!connected.ok()) {
      log.error(connected.error().message());
      return 1;
    }
    bus = std::move(*connected);
    bus_devices = std::make_unique<cluster::BusDevices>(*bus, *instance_id, log);
    (*core)->insert_device_layer(*bus_devices);
    bus_operators = std::make_unique<cluster::BusOperators>(*bus, *instance_id, log);
    log.info("bus: " + config.bus_url + " as instance " + *instance_id);
  }
  auto server = Server::create(config, **store, accounts, **operator_store, **core, log);
  if (!server.ok()) {
    log.error(server.error().message());
    return 1;
  }
  // Accounts, tokens and sessions changed on one instance hold on every instance.
  if (bus_operators) bus_operators->bind((*server)->operator_auth());
  // Software update: after the listener, whose port makes the default public URL.
  if (auto* updates = UpdateService::in((*core)->services())) {
    const std::string default_url = "https://localhost:" + std::to_string((*server)->port());
    if (auto s = updates->configure(config.update, config.store, default_url); !s.ok()) {
      log.error(s.error().message());
      return 2;
    }
  }
  log.info("listening on https://" + config.listen_address + ":" +
           std::to_string((*server)->port()) + "/");
  const int status = (*server)->run();
  // Before the core goes: no commit completion may be left to post to its inbox.
  if (auto flushed = (*monitoring)->flush(); !flushed.ok()) {
    log.error(flushed.error().wrap("saving monitoring records at exit").message());
  }
  if (auto flushed = (*config_store)->flush(); !flushed.ok()) {
    log.error(flushed.error().wrap("saving config versions at exit").message());
  }
  if (auto flushed = (*commands)->flush(); !flushed.ok()) {
    log.error(flushed.error().wrap("saving command outcomes at exit").message());
  }
  if (auto flushed = (*store)->flush(); !flushed.ok()) {
    log.error(flushed.error().wrap("saving device state at exit").message());
  }
  if (auto flushed = (*operator_store)->flush(); !flushed.ok()) {
    log.error(flushed.error().wrap("saving the audit trail at exit").message());
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  // The operator CLI (hub/cli/): `tether-hub cp` and `tether-hub forward`.
  if (argc >= 2 && tether::hub::cli::is_cli_command(argv[1])) {
    return tether::hub::cli::run_operator_cli(argc, argv);
  }
  auto inv = parse_command_line(argc, argv);
  if (!inv.ok()) {
    Logger(LogLevel::kInfo, kProgramName).error(inv.error().message());
    return 2;
  }
  const Logger log(inv->config.log_level, kProgramName);
  switch (inv->mode) {
    case Invocation::Mode::kHelp:
      std::cout << inv->help_text;
      return 0;
    case Invocation::Mode::kVersion:
      std::cout << "tether-hub " << TETHER_HUB_VERSION << "\n";
      return 0;
    case Invocation::Mode::kAddDevice:
      return add_device(*inv, log);
    case Invocation::Mode::kAddDevices:
      return add_devices(*inv, log);
    case Invocation::Mode::kHashPassword:
      return hash_password_from_stdin(log);
    case Invocation::Mode::kAddOperator:
      return add_operator(*inv, log);
    case Invocation::Mode::kServe:
      return serve(*inv, log);
  }
  return 1;
}
