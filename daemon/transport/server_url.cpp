#include "daemon/transport/server_url.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

namespace tether::daemon::transport {

std::string ServerUrl::authority() const {
  const std::string shown = host_is_ipv6_literal ? "[" + host + "]" : host;
  return shown + ":" + std::to_string(port);
}

Result<ServerUrl> parse_server_url(std::string_view text) {
  ServerUrl url;
  // Appended, not "'" + std::string: GCC 12 -Wrestrict false positive at -O3 (PR 105329).
  std::string quoted(1, '\'');
  quoted += text;
  quoted += '\'';
  std::string_view rest = text;
  if (rest.substr(0, 6) == "wss://") {
    url.tls = true;
    url.port = 443;
    rest.remove_prefix(6);
  } else if (rest.substr(0, 5) == "ws://") {
    url.tls = false;
    url.port = 80;
    rest.remove_prefix(5);
  } else {
    return Error(ErrorCode::kInvalidArgument, "not a wss:// or ws:// URL: " + quoted);
  }
  if (rest.find('#') != std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "a fragment (#) is not allowed in " + quoted);
  for (char c : rest) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      return Error(ErrorCode::kInvalidArgument, "whitespace or control characters in " + quoted);
  }

  const auto path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  url.path = path_at == std::string_view::npos ? std::string() : std::string(rest.substr(path_at));
  if (!url.path.empty() && url.path.front() == '?') url.path = "/" + url.path;
  if (url.path.empty() || url.path == "/") url.path = std::string(kDefaultPath);
  if (authority.find('@') != std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "user information is not allowed in " + quoted);

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return Error(ErrorCode::kInvalidArgument, "unterminated IPv6 literal in " + quoted);
    url.host = std::string(authority.substr(1, close - 1));
    in6_addr probe{};
    if (inet_pton(AF_INET6, url.host.c_str(), &probe) != 1)
      return Error(ErrorCode::kInvalidArgument,
                   "not an IPv6 address: '" + url.host + "' in " + quoted);
    url.host_is_ipv6_literal = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return Error(ErrorCode::kInvalidArgument, "junk after the IPv6 literal in " + quoted);
      port_text = after.substr(1);
      if (port_text.empty()) return Error(ErrorCode::kInvalidArgument, "empty port in " + quoted);
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Error(ErrorCode::kInvalidArgument, "empty port in " + quoted);
    }
    for (char c : url.host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
        return Error(ErrorCode::kInvalidArgument, "invalid character in host name of " + quoted);
    }
  }
  if (url.host.empty()) return Error(ErrorCode::kInvalidArgument, "no host in " + quoted);
  if (!port_text.empty()) {
    const auto port = parse_port(port_text);
    if (!port)
      return Error(ErrorCode::kInvalidArgument,
                   "invalid port '" + std::string(port_text) + "' in " + quoted);
    url.port = *port;
  }
  return url;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace tether::daemon::transport
