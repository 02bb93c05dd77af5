// tetherd's composition root: parses the options, builds the loop, the connection,
// the router and the protocol handlers, wires signals and systemd, runs the loop.
// Nothing else in the daemon constructs a component or reads an option.
#include <libwebsockets.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "daemon/lifecycle/signal_watch.hpp"
#include "daemon/lifecycle/systemd_notifier.hpp"
#include "daemon/log/logger.hpp"
#include "daemon/loop/event_loop.hpp"
#include "daemon/options/options_parser.hpp"
#include "daemon/router/router.hpp"
#include "daemon/transport/connection.hpp"
#include "daemon/transport/tls_context.hpp"
#include "protocol/message.hpp"

#if defined(TETHER_WITH_SHELL)
#include "plugins/shell/shell_plugin.hpp"
#endif

namespace tether::daemon {
namespace {

// Exit codes: 0 clean stop, 1 runtime failure at start, 2 bad configuration.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadConfig = 2;

// The whole stop (handlers' last words, close 1001) must end well inside the 5 s
// that systemd and the spec allow.
constexpr std::chrono::milliseconds kStopDeadline{3500};

void print_problems(const std::vector<std::string>& problems) {
  for (const auto& problem : problems) std::fprintf(stderr, "tetherd: %s\n", problem.c_str());
}

int run_daemon(const DaemonOptions& options) {
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
  if (options.server.auth == AuthMode::kMender)
    logger.warn(
        "server.auth=mender needs D-Bus, which this build does not have yet; "
        "using server.token-file instead");
  if (options.server.auth != AuthMode::kNone && options.server.token_file.empty())
    logger.warn("server.token-file is not set: the device cannot authenticate");

  auto loop = EventLoop::create({.workers = 2});
  if (!loop) {
    logger.error(loop.error().message());
    return kExitFailure;
  }
  EventLoop& event_loop = **loop;

  auto connection = transport::Connection::create(event_loop, std::move(settings).value(), logger);
  if (!connection) {
    logger.error(connection.error().message());
    return kExitBadConfig;
  }
  transport::Connection& link = **connection;
  Router router(link.outbound(), logger);
  link.set_listener(router);

  // ---- Protocol handlers: built here from the options, registered with the router.
  // Session-based handlers (shell, file transfer, port forward) are the ones a
  // control `accept` lists.
#if defined(TETHER_WITH_SHELL)
  std::unique_ptr<plugins::shell::ShellPlugin> shell;
  if (options.shell.enabled) {
    shell =
        std::make_unique<plugins::shell::ShellPlugin>(event_loop, link.outbound(), options.shell);
    // shellcg (issue #10): say how shell sessions are contained, and why not by cgroups.
    logger.info("shell sessions contained by " + shell->containment().description());
    if (const std::size_t ended = shell->containment().leftovers_ended(); ended > 0)
      logger.info("ended " + std::to_string(ended) + " shell session(s) left by a previous run");
    if (auto status = router.add_handler(protocol::proto::kShell, *shell, true); !status) {
      logger.error(status.error().message());
      return kExitFailure;
    }
  }
#else
  if (options.shell.enabled) logger.info("this build has no shell plugin; shell.enabled ignored");
#endif
  // Monitoring, config, update and command handlers register here once they exist.
  // ---- end of protocol handlers.

  SystemdNotifier systemd;
  link.on_state_change([&](transport::LinkState state, const std::string& sentence) {
    systemd.status(sentence);
    logger.debug("link " + std::string(transport::link_state_name(state)) + ": " + sentence);
  });

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
  link.start();
  // READY once the first connection attempt is under way. (The spec also waits for
  // the D-Bus name; tetherd has no D-Bus service yet.)
  systemd.ready();

  event_loop.run();
  logger.info("tetherd stopped");
  return kExitOk;
}

}  // namespace
}  // namespace tether::daemon

int main(int argc, char** argv) {
  using tether::daemon::ParsedCommandLine;
  const ParsedCommandLine parsed = tether::daemon::parse_command_line(argc, argv);
  switch (parsed.action) {
    case ParsedCommandLine::Action::kHelp:
      std::cout << parsed.help_text;
      return tether::daemon::kExitOk;
    case ParsedCommandLine::Action::kVersion:
      std::cout << "tetherd " TETHER_VERSION " (libwebsockets " << lws_get_library_version()
                << ")\n";
      return tether::daemon::kExitOk;
    case ParsedCommandLine::Action::kRun:
    case ParsedCommandLine::Action::kCheckConfig:
      break;
  }
  std::vector<std::string> problems = parsed.problems;
  if (problems.empty() && parsed.action == ParsedCommandLine::Action::kCheckConfig) {
    // The TLS material is checked as deeply as a connection would use it. A running
    // daemon gets the same check, and exit code, from building its connection.
    const auto& server = parsed.options.server;
    if (auto tls = tether::daemon::transport::make_client_tls_context(
            {server.ca_file, server.cert_file, server.key_file});
        !tls)
      problems.push_back(tls.error().message());
  }
  if (!problems.empty()) {
    tether::daemon::print_problems(problems);
    return tether::daemon::kExitBadConfig;
  }
  if (parsed.action == ParsedCommandLine::Action::kCheckConfig) {
    std::fprintf(stderr, "tetherd: configuration OK\n");
    return tether::daemon::kExitOk;
  }
  return tether::daemon::run_daemon(parsed.options);
}
