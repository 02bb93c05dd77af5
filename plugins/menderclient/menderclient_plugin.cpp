#include "plugins/menderclient/menderclient_plugin.hpp"

#include <vector>

#include "daemon/process/run_to_completion.hpp"
#include "protocol/portforward.hpp"

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
  process::ProgramRun run;
  run.argv = {program, command};
  run.timeout = timeout;
  run.max_output = kMaxOutput;
  auto ran = process::run_to_completion(run);
  if (!ran.ok()) return ran.error().message();
  if (ran->succeeded()) return {};
  std::string output = std::move(ran->output);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  const std::string tail = output.empty() ? "" : ": " + output;
  if (ran->ended == process::ProgramOutcome::Ended::kTimedOut) {
    return program + " " + command + " timed out" + tail;
  }
  return program + " " + command + " " + ran->describe(timeout) + tail;
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
