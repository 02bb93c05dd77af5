#include "daemon/app/tetherd_main.hpp"

#include <libwebsockets.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "daemon/dbus/bus_service.hpp"
#include "daemon/dbus/gateway_service.hpp"
#include "daemon/dbus/mender_auth.hpp"
#include "daemon/lifecycle/signal_watch.hpp"
#include "daemon/lifecycle/systemd_notifier.hpp"
#include "daemon/log/logger.hpp"
#include "daemon/loop/event_loop.hpp"
#include "daemon/options/options_parser.hpp"
#include "daemon/router/plugin_table.hpp"
#include "daemon/router/router.hpp"
#include "daemon/store/durable_store.hpp"
#include "daemon/transport/connection.hpp"
#include "daemon/transport/tls_context.hpp"

#ifndef TETHER_VERSION
#error "TETHER_VERSION must be defined by the build"
#endif

namespace tether::daemon {
namespace {

// The whole stop (handlers' last words, close 1001) must end well inside the 5 s
// that systemd and the spec allow.
constexpr std::chrono::milliseconds kStopDeadline{3500};

void print_problems(const std::vector<std::string>& problems) {
  for (const auto& problem : problems) std::fprintf(stderr, "tetherd: %s\n", problem.c_str());
}

int run_daemon(const ParsedCommandLine& parsed, std::span<const PluginRow> plugins) {
  const DaemonOptions& options = parsed.options;
  log::Logger logger(options.log_level);
  log::route_lws_logs(options.log_level);

  if (auto status = SignalWatch::block_signals(); !status) {
    logger.error(status.error().message());
    return kExitFailure;
  }

  auto settings = transport::Connection::settings_from(options.server);
  if (!settings) {
    logger.error(settings.error().message());
    return kExitBadConfig;
  }
  if (options.device.id.empty())
    logger.warn("device.id is not set and /etc/machine-id is unreadable; the device has no id");
  if (options.server.auth == AuthMode::kToken && options.server.token_file.empty())
    logger.warn("server.token-file is not set: the device cannot authenticate");

  auto loop = EventLoop::create({.workers = 2});
  if (!loop) {
    logger.error(loop.error().message());
    return kExitFailure;
  }
  EventLoop& event_loop = **loop;

  // The durable store (docs/store.md). A database that cannot be opened or fails its
  // integrity check is a start failure naming the path, never a silent reset.
  auto opened_store =
      store::DurableStore::open(event_loop, {.directory = options.device.state_dir});
  if (!opened_store) {
    logger.error("device.state-dir: " + opened_store.error().message());
    return kExitFailure;
  }
  std::unique_ptr<store::DurableStore> durable_store = std::move(opened_store).value();

  auto connection = transport::Connection::create(event_loop, std::move(settings).value(), logger);
  if (!connection) {
    logger.error(connection.error().message());
    return kExitBadConfig;
  }
  transport::Connection& link = **connection;
  Router router(link.outbound(), logger);
  link.set_listener(router);

  // The D-Bus service (daemon/dbus, docs/dbus.md): dbus.bus, io.tether.Gateway1 and
  // server.auth = mender. With dbus.bus = none nothing of it exists. Calls from the
  // bus into the connection are posted, so that the connection never runs inside
  // one of its own callbacks and the D-Bus reply leaves first.
  std::unique_ptr<dbus::BusService> bus;
  std::unique_ptr<dbus::GatewayService> gateway;
  std::unique_ptr<dbus::MenderAuth> mender;
  if (options.dbus_bus != BusKind::kNone) {
    auto opened = dbus::BusService::open(event_loop, options.dbus_bus, logger);
    if (!opened) {
      logger.error(opened.error().message());
      return kExitFailure;
    }
    bus = std::move(opened).value();
    auto reconnect_soon = [&event_loop, &link] {
      event_loop.post([&link] { link.reconnect_now(); });
    };
    auto registered = dbus::GatewayService::create(
        *bus, dbus::GatewayService::Sources{
                  .device_id = options.device.id,
                  .version = TETHER_VERSION,
                  .server_url = [&link] { return link.server_url(); },
                  // The monitoring plugin provides this once it exists.
                  .pending_records = [] { return std::uint64_t{0}; },
                  .reconnect = reconnect_soon,
              });
    if (!registered) {
      logger.error(registered.error().message());
      return kExitFailure;
    }
    gateway = std::move(registered).value();
    if (options.server.auth == AuthMode::kMender) {
      auto auth = dbus::MenderAuth::create(*bus, logger, reconnect_soon);
      if (!auth) {
        logger.error(auth.error().message());
        return kExitFailure;
      }
      mender = std::move(auth).value();
      link.set_credential_source(*mender);
    }
  }

  SystemdNotifier systemd;
  auto link_log = link.observers().subscribe([&](LinkState state, std::string_view sentence) {
    systemd.status(std::string(sentence));
    logger.debug("link " + std::string(link_state_name(state)) + ": " + std::string(sentence));
    // Gateway1.State knows offline, connecting and online; a finished shutdown is offline.
    if (gateway)
      gateway->set_state(state == LinkState::kStopped ? "offline"
                                                      : std::string(link_state_name(state)));
  });

  // The protocol handlers: main's table, built and registered with the router.
  const PluginEnvironment environment{
      .loop = event_loop,
      .outbound = link.outbound(),
      .logger = logger,
      .link = link.observers(),
      .device = {.id = options.device.id,
                 .state_dir = options.device.state_dir,
                 .version = TETHER_VERSION},
      .store = durable_store.get(),
      .bus = bus.get(),  // null with dbus.bus = none
  };
  auto handlers = build_plugins(plugins, parsed.values, environment, router);
  if (!handlers) {
    logger.error(handlers.error().message());
    return kExitFailure;
  }

  Timer stop_deadline(event_loop);
  bool stopping = false;
  auto signals = SignalWatch::create(event_loop, [&](int signal) {
    if (stopping) {
      logger.warn("second signal; stopping now");
      event_loop.stop();
      return;
    }
    stopping = true;
    logger.info(std::string("received ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") +
                "; shutting down");
    systemd.stopping();
    router.shutdown();
    link.shutdown([&event_loop] { event_loop.stop(); });
    stop_deadline.start(kStopDeadline, [&] {
      logger.warn("shutdown took too long; stopping anyway");
      event_loop.stop();
    });
  });
  if (!signals) {
    logger.error(signals.error().message());
    return kExitFailure;
  }

  Timer watchdog(event_loop);
  std::function<void()> pet_watchdog = [&] {
    systemd.watchdog();
    watchdog.start(systemd.watchdog_period(), pet_watchdog);
  };
  if (systemd.watchdog_period().count() > 0) pet_watchdog();

  logger.info("tetherd " TETHER_VERSION " starting; server " + options.server.url +
              ", device id '" + options.device.id + "'");
  int exit_code = kExitOk;
  if (mender) mender->start();
  link.start();
  // READY once the first connection attempt is under way and, with D-Bus, once the
  // name is owned (its reply arrives when the loop runs). Plugins registered their
  // interfaces above, so a client that sees the name sees every interface.
  if (bus) {
    const char* bus_name = options.dbus_bus == BusKind::kSystem ? "system" : "session";
    bus->own_name([&, bus_name](const Status& owned) {
      if (!owned) {
        logger.error("dbus.bus: " + owned.error().message());
        exit_code = kExitFailure;
        event_loop.stop();
        return;
      }
      logger.info(std::string("owning ") + dbus::BusService::kBusName + " on the " + bus_name +
                  " bus");
      systemd.ready();
    });
  } else {
    systemd.ready();
  }

  event_loop.run();
  logger.info("tetherd stopped");
  return exit_code;
}

}  // namespace

int tetherd_main(int argc, const char* const argv[], std::span<const PluginRow> plugins) {
  const std::vector<OptionSection> sections = plugin_sections(plugins);
  const ParsedCommandLine parsed = parse_command_line(argc, argv, sections);
  switch (parsed.action) {
    case ParsedCommandLine::Action::kHelp:
      std::cout << parsed.help_text;
      return kExitOk;
    case ParsedCommandLine::Action::kVersion:
      std::cout << "tetherd " TETHER_VERSION " (libwebsockets " << lws_get_library_version()
                << ")\n";
      return kExitOk;
    case ParsedCommandLine::Action::kRun:
    case ParsedCommandLine::Action::kCheckConfig:
      break;
  }
  std::vector<std::string> problems = parsed.problems;
  if (problems.empty() && parsed.action == ParsedCommandLine::Action::kCheckConfig) {
    // The TLS material is checked as deeply as a connection would use it. A running
    // daemon gets the same check, and exit code, from building its connection.
    const auto& server = parsed.options.server;
    if (auto tls =
            transport::make_client_tls_context({server.ca_file, server.cert_file, server.key_file});
        !tls)
      problems.push_back(tls.error().message());
  }
  if (!problems.empty()) {
    print_problems(problems);
    return kExitBadConfig;
  }
  if (parsed.action == ParsedCommandLine::Action::kCheckConfig) {
    std::fprintf(stderr, "tetherd: configuration OK\n");
    return kExitOk;
  }
  return run_daemon(parsed, plugins);
}

}  // namespace tether::daemon
