// portforward.allow: the `host:port` patterns a forwarded connection may dial.
// Mender's port forward dials whatever the peer names; tether dials only what
// this list allows, and checks the address it will actually dial (after DNS), so
// a name that resolves somewhere unexpected gains nothing.
//
// Pattern grammar (comma-separated): HOST:PORT where PORT is `*`, a number or a
// range `LOW-HIGH`, and HOST is `*`, an IPv4 or IPv6 address (IPv6 in brackets),
// a CIDR block (`10.0.0.0/8`, `[fd00::]/8`), or a host name (matched by name,
// case-insensitively, before resolution).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.hpp"

namespace tether::plugins::portforward {

class AllowList {
 public:
  // Parses the option's text; an error names the bad pattern.
  static Result<AllowList> parse(std::string_view text);

  // True when a pattern names `host` (a name, compared case-insensitively) with a
  // port range holding `port`: such a host may be dialled at whatever it resolves to.
  bool allows_name(std::string_view host, std::uint16_t port) const;
  // True when a `*`, address or CIDR pattern holds the address.
  bool allows_address(const sockaddr_storage& address, std::uint16_t port) const;

  std::size_t size() const { return patterns_.size(); }

 private:
  struct Pattern {
    enum class Kind { kAny, kName, kNetwork } kind = Kind::kAny;
    std::string name;  // kName, lower case
    int family = 0;    // kNetwork: AF_INET or AF_INET6
    std::array<std::uint8_t, 16> network{};
    unsigned prefix = 0;  // bits
    std::uint16_t port_low = 0;
    std::uint16_t port_high = 65535;
  };
  std::vector<Pattern> patterns_;
};

}  // namespace tether::plugins::portforward
