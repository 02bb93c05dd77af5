#include "hub/cli/cli_options.hpp"

#include <fstream>

#include "hub/store/store.hpp"

namespace tether::hub::cli {

namespace {

using daemon::transport::parse_port;
using daemon::transport::parse_server_url;
using daemon::transport::ServerUrl;

constexpr std::size_t kMaxTokenLength = 256;
constexpr std::size_t kMaxHostLength = 253;
constexpr std::size_t kMaxRemotePath = 4096;

const char* const kHelp =
    "usage: tether-hub cp [OPTIONS] LOCAL DEVICE:/PATH      upload a file\n"
    "       tether-hub cp [OPTIONS] DEVICE:/PATH LOCAL      download a file\n"
    "       tether-hub forward [OPTIONS] DEVICE LOCALPORT:HOST:PORT\n"
    "\n"
    "Reaches DEVICE through a running tether-hub with an API token (make one in the\n"
    "hub's UI under Accounts, or POST /api/tokens; role operator or admin).\n"
    "\n"
    "  cp        copies one regular file; a remote directory as the target takes the\n"
    "            local file's name, a local directory the remote one's.\n"
    "  forward   listens on 127.0.0.1:LOCALPORT (0: any free port) and carries each\n"
    "            connection to HOST:PORT as the device dials it (the device's\n"
    "            portforward.allow decides what it may dial). Runs until interrupted.\n"
    "\n"
    "options:\n"
    "  --hub URL          the hub, https://host[:port]   (else $TETHER_HUB_URL)\n"
    "  --token-file PATH  file holding the API token     (else $TETHER_HUB_TOKEN)\n"
    "  --ca-file PATH     CA of the hub's certificate    (else $TETHER_HUB_CA_FILE,\n"
    "                     else the system's CAs); the certificate is always verified\n"
    "  -h, --help         this text\n"
    "\n"
    "exit status: 0 done, 1 the transfer or forward failed, 2 bad arguments\n";

bool token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// A token goes into an HTTP header: only characters that cannot end or bend it.
Status check_token(const std::string& token, const std::string& where) {
  if (token.empty()) return Error(ErrorCode::kInvalidArgument, where + " is empty");
  if (token.size() > kMaxTokenLength) {
    return Error(ErrorCode::kInvalidArgument,
                 where + " is longer than " + std::to_string(kMaxTokenLength) + " characters");
  }
  for (char c : token) {
    if (!token_char(c)) {
      return Error(ErrorCode::kInvalidArgument,
                   where + " holds characters an API token does not have");
    }
  }
  return Status::Ok();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

Result<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kInvalidArgument, "option '--token-file': cannot read " + path);
  std::string text(kMaxTokenLength + 2, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  text = trim(text);
  if (auto s = check_token(text, "option '--token-file': " + path); !s.ok()) return s.error();
  return text;
}

bool has_space_or_control(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

bool is_cli_command(std::string_view argv1) {
  return argv1 == "cp" || argv1 == "forward";
}

Result<ServerUrl> parse_hub_url(std::string_view text) {
  std::string ws;
  if (text.rfind("https://", 0) == 0) {
    ws = "wss://" + std::string(text.substr(8));
  } else if (text.rfind("wss://", 0) == 0) {
    ws = std::string(text);
  } else {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + std::string(text) + "' is not an https:// URL (the hub serves TLS only)");
  }
  auto url = parse_server_url(ws);
  if (!url.ok()) return url.error();
  if (!url->tls) return Error(ErrorCode::kInvalidArgument, "the hub URL must use TLS");
  // Only the hub's root: the operator path is built per device.
  const std::string& path = url->path;
  if (!path.empty() && path != "/" && path != daemon::transport::kDefaultPath) {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + std::string(text) + "' has a path; give the hub's address only");
  }
  return url;
}

std::optional<RemotePath> parse_remote_path(std::string_view text) {
  // DEVICE:/path. A device id has no '/', so the first ":/" splits; "./a:/b" stays
  // local because "./a" is no device id.
  const auto split = text.find(":/");
  if (split == std::string_view::npos || split == 0) return std::nullopt;
  const std::string_view device = text.substr(0, split);
  if (!valid_device_id(device)) return std::nullopt;
  return RemotePath{std::string(device), std::string(text.substr(split + 1))};
}

Result<ForwardCommand> parse_forward_spec(std::string_view device, std::string_view spec) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + std::string(spec) + "' is not LOCALPORT:HOST:PORT (" + why + ")");
  };
  ForwardCommand f;
  if (!valid_device_id(device)) {
    return Error(
        ErrorCode::kInvalidArgument,
        "'" + std::string(device) + "' is not a valid device id (1-128 of A-Z a-z 0-9 . _ : -)");
  }
  f.device = std::string(device);
  const auto first = spec.find(':');
  const auto last = spec.rfind(':');
  if (first == std::string_view::npos || first == last) return bad("two ':' are needed");
  const std::string_view local = spec.substr(0, first);
  if (local == "0") {
    f.local_port = 0;
  } else if (auto port = parse_port(local)) {
    f.local_port = *port;
  } else {
    return bad("the local port is not a number from 0 to 65535");
  }
  std::string_view host = spec.substr(first + 1, last - first - 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return bad("no host");
  if (host.size() > kMaxHostLength || has_space_or_control(host) ||
      host.find_first_of("[]/") != std::string_view::npos) {
    return bad("the host is not a name or an address");
  }
  f.remote_host = std::string(host);
  auto remote_port = parse_port(spec.substr(last + 1));
  if (!remote_port) return bad("the remote port is not a number from 1 to 65535");
  f.remote_port = *remote_port;
  return f;
}

Result<CliInvocation> parse_cli(std::span<const std::string> args, const EnvLookup& env) {
  CliInvocation inv;
  if (args.empty() || !is_cli_command(args[0])) {
    return Error(ErrorCode::kInvalidArgument, "expected the subcommand cp or forward");
  }
  const std::string& command = args[0];
  std::optional<std::string> hub_url;
  std::optional<std::string> token_file;
  std::optional<std::string> ca_file;
  std::vector<std::string> positional;
  bool options_done = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      inv.kind = CliInvocation::Kind::kHelp;
      inv.help_text = kHelp;
      return inv;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    std::optional<std::string>* target = nullptr;
    if (name == "--hub") {
      target = &hub_url;
    } else if (name == "--token-file") {
      target = &token_file;
    } else if (name == "--ca-file") {
      target = &ca_file;
    } else {
      return Error(ErrorCode::kInvalidArgument, "unknown option '" + name + "' (see --help)");
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return Error(ErrorCode::kInvalidArgument, "option '" + name + "' needs a value");
      }
      value = args[++i];
    }
    if (value->empty()) {
      return Error(ErrorCode::kInvalidArgument, "option '" + name + "' needs a value");
    }
    *target = *value;
  }

  if (command == "cp") {
    if (positional.size() != 2) {
      return Error(ErrorCode::kInvalidArgument,
                   "cp takes two arguments: LOCAL DEVICE:/PATH or DEVICE:/PATH LOCAL");
    }
    auto src = parse_remote_path(positional[0]);
    auto dst = parse_remote_path(positional[1]);
    if (src && dst) {
      return Error(ErrorCode::kInvalidArgument,
                   "cp copies between this machine and a device; both arguments are remote");
    }
    if (!src && !dst) {
      return Error(ErrorCode::kInvalidArgument,
                   "cp needs one argument of the form DEVICE:/absolute/path");
    }
    inv.kind = CliInvocation::Kind::kCopy;
    inv.copy.upload = dst.has_value();
    inv.copy.remote = dst ? *dst : *src;
    inv.copy.local = dst ? positional[0] : positional[1];
    if (inv.copy.local.empty()) {
      return Error(ErrorCode::kInvalidArgument, "the local path is empty");
    }
    if (inv.copy.remote.path.size() > kMaxRemotePath ||
        inv.copy.remote.path.find('\0') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument, "the remote path is too long");
    }
  } else {
    if (positional.size() != 2) {
      return Error(ErrorCode::kInvalidArgument,
                   "forward takes two arguments: DEVICE LOCALPORT:HOST:PORT");
    }
    auto forward = parse_forward_spec(positional[0], positional[1]);
    if (!forward.ok()) return forward.error();
    inv.kind = CliInvocation::Kind::kForward;
    inv.forward = *forward;
  }

  if (!hub_url) hub_url = env("TETHER_HUB_URL");
  if (!hub_url || hub_url->empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "no hub: give --hub https://host:port or set "
                 "TETHER_HUB_URL");
  }
  auto url = parse_hub_url(*hub_url);
  if (!url.ok()) return url.error().wrap("option '--hub'");
  inv.hub.url = *url;

  if (token_file) {
    auto token = read_token_file(*token_file);
    if (!token.ok()) return token.error();
    inv.hub.token = *token;
  } else if (auto token = env("TETHER_HUB_TOKEN"); token && !token->empty()) {
    if (auto s = check_token(trim(*token), "TETHER_HUB_TOKEN"); !s.ok()) return s.error();
    inv.hub.token = trim(*token);
  } else {
    return Error(ErrorCode::kInvalidArgument,
                 "no API token: give --token-file PATH or set TETHER_HUB_TOKEN");
  }

  if (!ca_file) ca_file = env("TETHER_HUB_CA_FILE");
  if (ca_file) inv.hub.ca_file = *ca_file;
  return inv;
}

}  // namespace tether::hub::cli
