#include "hub/cli/cli_main.hpp"

#include <libwebsockets.h>
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/lifecycle/signal_watch.hpp"
#include "daemon/loop/event_loop.hpp"
#include "hub/cli/cli_options.hpp"
#include "hub/cli/file_copy.hpp"
#include "hub/cli/port_forward.hpp"

namespace tether::hub::cli {

namespace {

std::optional<std::string> getenv_lookup(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// The process umask, read without changing it for good (before any thread runs).
unsigned current_umask() {
  const mode_t mask = ::umask(022);
  ::umask(mask);
  return static_cast<unsigned>(mask);
}

}  // namespace

int run_operator_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string prefix = "tether-hub " + (args.empty() ? std::string() : args[0]) + ": ";
  auto say = [&prefix](const std::string& line) { std::cerr << prefix << line << std::endl; };

  auto inv = parse_cli(args, getenv_lookup);
  if (!inv.ok()) {
    say(inv.error().message() + " (see --help)");
    return 2;
  }
  if (inv->kind == CliInvocation::Kind::kHelp) {
    std::cout << inv->help_text;
    return 0;
  }
  const unsigned umask = current_umask();
  // SIGINT/SIGTERM become loop events; blocked before the loop's workers start.
  if (auto s = daemon::SignalWatch::block_signals(); !s.ok()) {
    say(s.error().message());
    return 1;
  }
  // Every failure is reported once, in this CLI's words; lws's own lines would
  // only repeat them less clearly.
  lws_set_log_level(0, nullptr);
  auto loop = daemon::EventLoop::create();
  if (!loop.ok()) {
    say(loop.error().message());
    return 1;
  }
  daemon::EventLoop& l = **loop;
  Status outcome = Error(ErrorCode::kInternal, "the command did not finish");
  auto finished = [&](const Status& s) {
    outcome = s;
    l.stop();
  };

  std::unique_ptr<FileCopy> copy;
  std::unique_ptr<PortForward> forward;
  Status started;
  if (inv->kind == CliInvocation::Kind::kCopy) {
    copy = std::make_unique<FileCopy>(l, inv->hub, inv->copy, umask, finished);
    started = copy->start();
  } else {
    forward = std::make_unique<PortForward>(l, inv->hub, inv->forward, say, finished);
    started = forward->start();
  }
  if (!started.ok()) {
    say(started.error().message());
    return started.error().code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  auto signals = daemon::SignalWatch::create(l, [&](int /*signal*/) {
    if (forward) {
      forward->stop();
    } else {
      finished(Error(ErrorCode::kUnavailable, "interrupted"));
    }
  });
  if (!signals.ok()) {
    say(signals.error().message());
    return 1;
  }
  l.run();
  // The commands go before the loop whose timers and watches they hold.
  copy.reset();
  forward.reset();
  if (!outcome.ok()) {
    say(outcome.error().message());
    return 1;
  }
  return 0;
}

}  // namespace tether::hub::cli
