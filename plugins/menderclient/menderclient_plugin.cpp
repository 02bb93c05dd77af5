#include "plugins/menderclient/menderclient_plugin.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "protocol/portforward.hpp"

extern char** environ;  // NOLINT: POSIX

namespace tether::plugins::menderclient {
namespace {

namespace mc = protocol::menderclient;

constexpr std::size_t kMaxOutput = 1024;

}  // namespace

daemon::OptionSection option_section() {
  return {
      "menderclient",
      {
          {"enabled", "true", "answer check-update and send-inventory (protocol 4)"},
          {"client", std::nullopt,
           "the Mender client program (default: /usr/bin/mender-update, else /usr/bin/mender)"},
          {"timeout", "30", "seconds the client command may run"},
      },
      [](daemon::OptionReader& reader) { (void)read_options(reader); },
  };
}

MenderClientOptions read_options(daemon::OptionReader& reader) {
  MenderClientOptions o;
  reader.boolean("enabled", o.enabled);
  reader.absolute_path("client", o.client);
  reader.seconds("timeout", o.timeout, true);
  return o;
}

std::string run_client_command(const std::string& program, const std::string& command,
                               std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return "cannot make a pipe";
  std::string arg0 = program;
  std::string arg1 = command;
  std::array<char*, 3> argv{arg0.data(), arg1.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawnattr_init(&attributes);
  // Its own process group (killed whole on a timeout), default signals, empty mask
  // (the daemon blocks signals for its signalfd).
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    return "cannot start " + program + ": " + std::strerror(spawned);  // NOLINT
  }
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fd{pipe_fds[0], POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    std::array<char, 1024> buffer{};
    const ssize_t n = ::read(pipe_fds[0], buffer.data(), buffer.size());
    if (n > 0) {
      output.append(buffer.data(), static_cast<std::size_t>(n));
      if (output.size() > kMaxOutput) output.erase(0, output.size() - kMaxOutput);
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  for (;;) {
    if (timed_out) ::kill(-pid, SIGKILL);
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid) break;
    if (reaped < 0 && errno != EINTR) return "waitpid failed";
    if (std::chrono::steady_clock::now() >= deadline) timed_out = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  const std::string tail = output.empty() ? "" : ": " + output;
  if (timed_out) return program + " " + command + " timed out" + tail;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status))
    return program + " " + command + " exited with status " + std::to_string(WEXITSTATUS(status)) +
           tail;
  return program + " " + command + " was killed by signal " + std::to_string(WTERMSIG(status)) +
         tail;
}

MenderClientPlugin::MenderClientPlugin(const daemon::PluginContext& context,
                                       MenderClientOptions options)
    : loop_(context.loop),
      outbound_(context.outbound),
      log_(context.log),
      options_(std::move(options)),
      self_(std::make_shared<MenderClientPlugin*>(this)) {}

std::string MenderClientPlugin::client_program() const {
  if (!options_.client.empty()) return options_.client;
  for (const char* candidate : {"/usr/bin/mender-update", "/usr/bin/mender"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return {};
}

void MenderClientPlugin::reply(const protocol::ProtoHdr& request, std::string_view error) {
  protocol::ProtoMsg msg;
  msg.hdr.proto = request.proto;
  msg.hdr.typ = request.typ;
  msg.hdr.sid = request.sid;
  protocol::set(msg.hdr.props, std::string(mc::kStatusProp),
                error.empty() ? mc::kStatusOk : mc::kStatusError);
  msg.body.assign(error.begin(), error.end());
  if (auto status = outbound_.send(msg, daemon::Priority::kControl); !status)
    log_.debug("reply not sent: " + status.error().message());
}

Status MenderClientPlugin::on_message(const protocol::ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ != mc::typ::kCheckUpdate && typ != mc::typ::kSendInventory) {
    reply(msg.hdr, "unknown message type");
    return {};
  }
  const std::string program = client_program();
  if (program.empty()) {
    reply(msg.hdr, "no Mender client installed (/usr/bin/mender-update or /usr/bin/mender)");
    return {};
  }
  if (running_ >= kMaxRunning) {
    reply(msg.hdr, "busy: too many client commands running");
    return {};
  }
  ++running_;
  log_.audit("run", {{"user_id", std::string(msg.hdr.prop_str("user_id").value_or(""))},
                     {"command", typ}});
  auto outcome = std::make_shared<std::string>();
  loop_.run_blocking([program, typ, timeout = options_.timeout,
                      outcome] { *outcome = run_client_command(program, typ, timeout); },
                     [this, weak = std::weak_ptr(self_), hdr = msg.hdr, outcome] {
                       if (!weak.lock()) return;
                       --running_;
                       if (!outcome->empty()) log_.warn(*outcome);
                       reply(hdr, *outcome);
                     });
  return {};
}

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options) {
  MenderClientOptions mc_options = read_options(options);
  if (!options.ok()) return Error(ErrorCode::kInvalidArgument, "invalid [menderclient] options");
  return std::unique_ptr<daemon::ProtocolHandler>(
      std::make_unique<MenderClientPlugin>(context, std::move(mc_options)));
}

}  // namespace tether::plugins::menderclient
