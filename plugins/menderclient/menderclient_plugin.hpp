// The Mender client protocol handler (proto 0x0004, spec/sessions.md section 3):
// the backend asks the device to check for an update now (`check-update`) or to
// send its inventory now (`send-inventory`). As mender-connect does, the device
// runs the Mender client's command line for it (`mender-update check-update`,
// which signals the running mender-updated), and answers on the same typ and sid
// with props {status: 1}, or {status: 2} and the reason as body text.
//
// The command runs on a worker thread with a timeout (its process group is killed
// when it runs over); at most kMaxRunning run at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "daemon/plugin_api/options.hpp"
#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"

namespace tether::plugins::menderclient {

struct MenderClientOptions {
  bool enabled = true;
  // The Mender client program; empty: /usr/bin/mender-update, else /usr/bin/mender.
  std::string client;
  std::chrono::milliseconds timeout{30'000};
};

daemon::OptionSection option_section();
MenderClientOptions read_options(daemon::OptionReader& reader);

// Runs `program command` to completion (blocking): empty on exit 0, else the reason
// with the tail of its output.
std::string run_client_command(const std::string& program, const std::string& command,
                               std::chrono::milliseconds timeout);

class MenderClientPlugin final : public daemon::ProtocolHandler {
 public:
  MenderClientPlugin(const daemon::PluginContext& context, MenderClientOptions options);
  Status on_message(const protocol::ProtoMsg& msg) override;

  static constexpr std::size_t kMaxRunning = 4;

 private:
  void reply(const protocol::ProtoHdr& request, std::string_view error);
  // The configured client, or the first of Mender's two that exists; empty if none.
  std::string client_program() const;

  daemon::EventLoop& loop_;
  daemon::Outbound& outbound_;
  daemon::PluginLogger log_;
  MenderClientOptions options_;
  std::size_t running_ = 0;
  std::shared_ptr<MenderClientPlugin*> self_;
};

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options);

}  // namespace tether::plugins::menderclient
