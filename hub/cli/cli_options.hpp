// The command line of the operator CLI: `tether-hub cp` and `tether-hub forward`,
// which reach a device through a running hub's operator WebSocket (docs/hub.md,
// "Operator CLI"). Pure: the environment comes in as a lookup function, so every
// rule here is testable without a process around it.
//
// Where the hub is and how to prove who we are, each from an option or else from
// the environment:
//   --hub URL         TETHER_HUB_URL         https://host[:port] (wss:// too)
//   --token-file PATH TETHER_HUB_TOKEN       an API token (never on the command line,
//                                            where `ps` would show it)
//   --ca-file PATH    TETHER_HUB_CA_FILE     the CA that signed the hub's certificate
//                                            (default: the system's CAs)
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/transport/server_url.hpp"
#include "protocol/result.hpp"

namespace tether::hub::cli {

// Reads one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Where the hub is, and the credentials for it.
struct HubAccess {
  daemon::transport::ServerUrl url;  // wss, host, port; the path is set per device
  std::string token;
  std::string ca_file;  // empty: the system's default CAs
};

// DEVICE:/absolute/path on the command line.
struct RemotePath {
  std::string device;
  std::string path;
};

// `cp SRC DST`: exactly one side is remote.
struct CopyCommand {
  bool upload = false;  // local -> device
  std::string local;
  RemotePath remote;
};

// `forward DEVICE LOCALPORT:HOST:PORT`: 127.0.0.1:LOCALPORT on this machine reaches
// HOST:PORT as the device dials it. Local port 0 picks a free port.
struct ForwardCommand {
  std::string device;
  std::uint16_t local_port = 0;
  std::string remote_host;
  std::uint16_t remote_port = 0;
};

struct CliInvocation {
  enum class Kind { kHelp, kCopy, kForward };
  Kind kind = Kind::kHelp;
  HubAccess hub;
  CopyCommand copy;
  ForwardCommand forward;
  std::string help_text;
};

// Whether `argv1` names a CLI subcommand (main dispatches on it).
bool is_cli_command(std::string_view argv1);

// Parses `args` (args[0] is the subcommand: "cp" or "forward"). Errors say which
// argument or option is wrong. The token file is read here, so a missing or
// unreadable one is an argument error too.
Result<CliInvocation> parse_cli(std::span<const std::string> args, const EnvLookup& env);

// Exposed for tests.
std::optional<RemotePath> parse_remote_path(std::string_view text);
Result<ForwardCommand> parse_forward_spec(std::string_view device, std::string_view spec);
Result<daemon::transport::ServerUrl> parse_hub_url(std::string_view text);

}  // namespace tether::hub::cli
