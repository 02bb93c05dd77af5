#include "plugins/portforward/allow_list.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace tether::plugins::portforward {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool parse_number(std::string_view s, unsigned long max, unsigned long& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out <= max;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
  });
}

}  // namespace

Result<AllowList> AllowList::parse(std::string_view text) {
  AllowList list;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string_view raw = trim(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    start = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    if (raw.empty()) continue;
    auto bad = [&](const std::string& why) {
      return Error(ErrorCode::kInvalidArgument, "bad pattern '" + std::string(raw) + "': " + why);
    };
    const std::size_t colon = raw.rfind(':');
    if (colon == std::string_view::npos) return bad("expected HOST:PORT");
    std::string_view host = raw.substr(0, colon);
    const std::string_view port = raw.substr(colon + 1);
    Pattern p;
    if (port != "*") {
      const std::size_t dash = port.find('-');
      unsigned long low = 0;
      unsigned long high = 0;
      if (dash == std::string_view::npos) {
        if (!parse_number(port, 65535, low)) return bad("port is not *, a number or a range");
        high = low;
      } else if (!parse_number(port.substr(0, dash), 65535, low) ||
                 !parse_number(port.substr(dash + 1), 65535, high) || low > high) {
        return bad("port is not *, a number or a range");
      }
      p.port_low = static_cast<std::uint16_t>(low);
      p.port_high = static_cast<std::uint16_t>(high);
    }
    // An optional /prefix after the host (or after the bracketed IPv6 address).
    std::string_view prefix_text;
    if (const std::size_t slash = host.rfind('/');
        slash != std::string_view::npos && (host.front() != '[' || slash > host.rfind(']'))) {
      prefix_text = host.substr(slash + 1);
      host = host.substr(0, slash);
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      const std::string address(host.substr(1, host.size() - 2));
      if (::inet_pton(AF_INET6, address.c_str(), p.network.data()) != 1)
        return bad("not an IPv6 address");
      p.kind = Pattern::Kind::kNetwork;
      p.family = AF_INET6;
      p.prefix = 128;
    } else if (host == "*") {
      if (!prefix_text.empty()) return bad("* takes no prefix");
      p.kind = Pattern::Kind::kAny;
    } else if (const std::string address(host);
               ::inet_pton(AF_INET, address.c_str(), p.network.data()) == 1) {
      p.kind = Pattern::Kind::kNetwork;
      p.family = AF_INET;
      p.prefix = 32;
    } else {
      if (!prefix_text.empty()) return bad("a host name takes no prefix");
      if (!valid_name(host)) return bad("not a host name, address or CIDR block");
      p.kind = Pattern::Kind::kName;
      p.name = lower(host);
    }
    if (!prefix_text.empty()) {
      unsigned long bits = 0;
      if (!parse_number(prefix_text, p.prefix, bits)) return bad("bad prefix length");
      p.prefix = static_cast<unsigned>(bits);
    }
    list.patterns_.push_back(std::move(p));
  }
  return list;
}

bool AllowList::allows_name(std::string_view host, std::uint16_t port) const {
  const std::string name = lower(host);
  return std::any_of(patterns_.begin(), patterns_.end(), [&](const Pattern& p) {
    return p.kind == Pattern::Kind::kName && p.name == name && port >= p.port_low &&
           port <= p.port_high;
  });
}

bool AllowList::allows_address(const sockaddr_storage& address, std::uint16_t port) const {
  std::array<std::uint8_t, 16> bytes{};
  int family = address.ss_family;
  if (family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    std::memcpy(bytes.data(), &in->sin_addr, 4);
  } else if (family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    std::memcpy(bytes.data(), &in6->sin6_addr, 16);
  } else {
    return false;
  }
  return std::any_of(patterns_.begin(), patterns_.end(), [&](const Pattern& p) {
    if (port < p.port_low || port > p.port_high) return false;
    if (p.kind == Pattern::Kind::kAny) return true;
    if (p.kind != Pattern::Kind::kNetwork || p.family != family) return false;
    const unsigned whole = p.prefix / 8;
    if (std::memcmp(bytes.data(), p.network.data(), whole) != 0) return false;
    const unsigned rest = p.prefix % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (bytes[whole] & mask) == (p.network[whole] & mask);
  });
}

}  // namespace tether::plugins::portforward
