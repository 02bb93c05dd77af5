// tether-sim: the composition root. Parses the options, raises the file
// descriptor limit (one socket per simulated device), reads the tokens and runs
// the fleet on one event loop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "hub/sim/fleet.hpp"
#include "hub/sim/sim_options.hpp"

namespace {

// Descriptors the process needs besides one per device (stdio, signalfd, stats,
// the lws context's own).
constexpr rlim_t kSpareDescriptors = 64;

// Raises the soft limit on open files to the hard limit, as a load generator
// with thousands of sockets must; fails when even that is too low.
tether::Status raise_fd_limit(std::size_t devices) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return tether::Error(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return tether::Error(std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
    }
  }
  const rlim_t needed = static_cast<rlim_t>(devices) + kSpareDescriptors;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    return tether::Error("the open-file limit (" + std::to_string(limit.rlim_cur) +
                         ") is below the " + std::to_string(needed) + " that " +
                         std::to_string(devices) +
                         " devices need; raise the hard limit (ulimit -Hn, LimitNOFILE)");
  }
  return tether::Status::Ok();
}

// Every --source-addresses address must be one of this machine's: a dial from one
// that is not would fail, and be retried, forever.
tether::Status check_source_addresses(const std::vector<std::string>& addresses) {
  for (const std::string& address : addresses) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (inet_pton(AF_INET, address.c_str(), &local.sin_addr) != 1) {
      return tether::Error("'" + address + "' is not an IPv4 address");
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return tether::Error(std::string("socket: ") + std::strerror(errno));
    const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local);
    const int bind_errno = errno;
    close(fd);
    if (bound != 0) {
      return tether::Error("option '--source-addresses': cannot dial from " + address + ": " +
                           std::strerror(bind_errno));
    }
  }
  return tether::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  auto inv = tether::sim::parse_sim_options(argc, argv);
  if (!inv.ok()) {
    std::fprintf(stderr, "tether-sim: %s (see --help)\n", inv.error().message().c_str());
    return 2;
  }
  if (inv->help) {
    std::cout << inv->help_text;
    return 0;
  }
  const tether::sim::SimOptions& options = inv->options;
  if (auto s = check_source_addresses(options.source_addresses); !s.ok()) {
    std::fprintf(stderr, "tether-sim: %s\n", s.error().message().c_str());
    return 2;
  }
  auto identities = tether::sim::read_tokens(options.tokens_file, options.devices);
  if (!identities.ok()) {
    std::fprintf(stderr, "tether-sim: option '--tokens': %s\n",
                 identities.error().message().c_str());
    return 2;
  }
  if (auto s = raise_fd_limit(identities->size()); !s.ok()) {
    std::fprintf(stderr, "tether-sim: %s\n", s.error().message().c_str());
    return 1;
  }
  auto fleet = tether::sim::Fleet::create(options, std::move(*identities));
  if (!fleet.ok()) {
    std::fprintf(stderr, "tether-sim: %s\n", fleet.error().message().c_str());
    return 1;
  }
  return (*fleet)->run();
}
