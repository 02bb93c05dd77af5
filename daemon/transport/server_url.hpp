// The server.url option, parsed: where to dial and what to present as the host
// name (Host header, SNI, certificate check).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace tether::daemon::transport {

// The path used when server.url has none (wire.md section 1).
inline constexpr std::string_view kDefaultPath = "/api/devices/v1/deviceconnect/connect";

struct ServerUrl {
  bool tls = true;   // wss (true) or ws (false, only when written so)
  std::string host;  // name or address literal; IPv6 without brackets
  std::uint16_t port = 443;
  std::string path;  // starts with '/', includes any query
  bool host_is_ipv6_literal = false;

  // "host:port" with brackets around an IPv6 literal, for logs and the Host header.
  std::string authority() const;
};

// Accepts wss://host[:port][/path] and ws://...; refuses other schemes, user
// info, fragments, empty hosts and ports outside 1..65535.
Result<ServerUrl> parse_server_url(std::string_view text);

// A TCP port written in decimal, 1 to 65535, nothing else; shared by every
// host:port this daemon parses (server URL, proxy).
std::optional<std::uint16_t> parse_port(std::string_view text);

}  // namespace tether::daemon::transport
