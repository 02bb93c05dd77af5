// Which HTTP proxy (if any) the connection to the backend goes through: the
// server.proxy option, else https_proxy / HTTPS_PROXY from the environment unless
// no_proxy / NO_PROXY exempts the backend's host. The proxy is used with CONNECT,
// so TLS stays end to end between the device and the backend.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace tether::daemon::transport {

struct ProxyAddress {
  std::string host;
  std::uint16_t port = 3128;
  // "user:password" when the proxy URL carried them; sent as Proxy-Authorization
  // Basic by libwebsockets, and never logged.
  std::string credentials;
};

// Parses "http://[user:pass@]host[:port][/]" or "host:port".
Result<ProxyAddress> parse_proxy_url(std::string_view text);

// True when a no_proxy list ("a.example.com,.example.org,*") exempts `host`.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host);

// The proxy to use for `server_host`: `configured` when set, else the environment.
// Errors only for an unparsable environment value (the option is validated at start).
Result<std::optional<ProxyAddress>> choose_proxy(const std::string& configured,
                                                 const std::string& server_host);

}  // namespace tether::daemon::transport
