// tether-sim: the composition root. Parses the options, raises the file
// descriptor limit (one socket per simulated device), reads the tokens and runs
// the fleet on one event loop.
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

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
