#include "daemon/transport/proxy_config.hpp"

#include <cstdlib>

#include "daemon/transport/server_url.hpp"

namespace tether::daemon::transport {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* environment(const char* lower, const char* upper) {
  const char* value = std::getenv(lower);
  if (value == nullptr || *value == '\0') value = std::getenv(upper);
  return (value != nullptr && *value != '\0') ? value : nullptr;
}

}  // namespace

Result<ProxyAddress> parse_proxy_url(std::string_view text) {
  // Appended, not "'" + std::string: GCC 12 -Wrestrict false positive at -O3 (PR 105329).
  std::string quoted(1, '\'');
  quoted += text;
  quoted += '\'';
  std::string_view rest = trim(text);
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument, "only http:// proxies are supported: " + quoted);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "a proxy URL has no path: " + quoted);
  ProxyAddress proxy;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    proxy.credentials = std::string(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos)
      return Error(ErrorCode::kInvalidArgument, "unterminated IPv6 literal in " + quoted);
    proxy.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':')
        return Error(ErrorCode::kInvalidArgument, "junk after the IPv6 literal in " + quoted);
      port_text = rest.substr(close + 2);
    }
  } else {
    const auto colon = rest.find(':');
    proxy.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (proxy.host.empty()) return Error(ErrorCode::kInvalidArgument, "no host in proxy " + quoted);
  if (!port_text.empty()) {
    const auto port = parse_port(port_text);
    if (!port) return Error(ErrorCode::kInvalidArgument, "invalid port in proxy " + quoted);
    proxy.port = *port;
  }
  return proxy;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host) {
  while (!no_proxy.empty()) {
    const auto comma = no_proxy.find(',');
    std::string_view entry = trim(no_proxy.substr(0, comma));
    no_proxy = comma == std::string_view::npos ? std::string_view() : no_proxy.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (const auto colon = entry.find(':');
        colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos)
      entry = entry.substr(0, colon);  // "host:port" entries: compare the host only
    if (entry.front() == '.') entry.remove_prefix(1);
    if (host == entry) return true;
    if (host.size() > entry.size() && host.substr(host.size() - entry.size()) == entry &&
        host[host.size() - entry.size() - 1] == '.')
      return true;
  }
  return false;
}

Result<std::optional<ProxyAddress>> choose_proxy(const std::string& configured,
                                                 const std::string& server_host) {
  if (!configured.empty()) {
    auto parsed = parse_proxy_url(configured);
    if (!parsed) return parsed.error().wrap("server.proxy");
    return std::optional<ProxyAddress>(std::move(parsed).value());
  }
  const char* from_env = environment("https_proxy", "HTTPS_PROXY");
  if (from_env == nullptr) return std::optional<ProxyAddress>();
  if (const char* exempt = environment("no_proxy", "NO_PROXY");
      exempt != nullptr && no_proxy_matches(exempt, server_host))
    return std::optional<ProxyAddress>();
  auto parsed = parse_proxy_url(from_env);
  if (!parsed) return parsed.error().wrap("https_proxy");
  return std::optional<ProxyAddress>(std::move(parsed).value());
}

}  // namespace tether::daemon::transport
