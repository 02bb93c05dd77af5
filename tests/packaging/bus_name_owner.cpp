// Stand-ins for the package test (tests/packaging/run), used while the packaged
// tetherd has no D-Bus service of its own.
//
//   bus_name_owner own [NAME]     ask the system bus for NAME (io.tether.Gateway1), print
//                                 "owner of NAME", then answer calls (sd-bus answers
//                                 org.freedesktop.DBus.Peer.Ping by itself) and broadcast
//                                 a signal every 100 ms until killed. Exit 1 when refused.
//   bus_name_owner listen [NAME]  wait up to 3 s for a signal sent by NAME. Exit 0 when
//                                 one arrives, 3 when none does (the bus policy withheld it).
#include <systemd/sd-bus.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace {

constexpr std::uint64_t kTickUsec = 100'000;
constexpr std::uint64_t kListenUsec = 3'000'000;

int own(sd_bus* bus, const char* name) {
  if (int r = sd_bus_request_name(bus, name, 0); r < 0) {
    std::fprintf(stderr, "bus_name_owner: %s: %s\n", name, std::strerror(-r));
    return 1;
  }
  std::printf("owner of %s\n", name);
  std::fflush(stdout);
  for (;;) {
    sd_bus_emit_signal(bus, "/io/tether/Gateway1", "io.tether.Test1", "Tick", "");
    for (;;) {
      const int r = sd_bus_process(bus, nullptr);
      if (r < 0) return 1;
      if (r == 0) break;
    }
    if (sd_bus_wait(bus, kTickUsec) < 0) return 1;
  }
}

int on_signal(sd_bus_message* /*message*/, void* userdata, sd_bus_error* /*error*/) {
  *static_cast<bool*>(userdata) = true;
  return 0;
}

int listen(sd_bus* bus, const char* name) {
  bool received = false;
  const std::string match = std::string("type='signal',sender='") + name + "'";
  if (int r = sd_bus_add_match(bus, nullptr, match.c_str(), on_signal, &received); r < 0) {
    std::fprintf(stderr, "bus_name_owner: match: %s\n", std::strerror(-r));
    return 1;
  }
  struct timespec now {};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const std::uint64_t start = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 +
                              static_cast<std::uint64_t>(now.tv_nsec) / 1000;
  for (;;) {
    const int r = sd_bus_process(bus, nullptr);
    if (r < 0) return 1;
    if (received) return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const std::uint64_t elapsed = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 +
                                  static_cast<std::uint64_t>(now.tv_nsec) / 1000 - start;
    if (elapsed >= kListenUsec) return 3;
    if (r == 0 && sd_bus_wait(bus, kListenUsec - elapsed) < 0) return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "own";
  const char* name = argc > 2 ? argv[2] : "io.tether.Gateway1";
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_system(&bus); r < 0) {
    std::fprintf(stderr, "bus_name_owner: system bus: %s\n", std::strerror(-r));
    return 1;
  }
  const int status = mode == "listen" ? listen(bus, name) : own(bus, name);
  sd_bus_flush_close_unref(bus);
  return status;
}
