// Stand-in owner of io.tether.Gateway1 for the package test (tests/packaging/run),
// used only when the packaged tetherd has no D-Bus service yet. It asks the system
// bus for the name (so the policy's "only root may own" is exercised), then answers
// calls until killed; sd-bus answers org.freedesktop.DBus.Peer.Ping by itself, which
// is what the test calls. Exit status: 0 when killed, 1 when the name was refused.
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  const char* name = argc > 1 ? argv[1] : "io.tether.Gateway1";
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_system(&bus); r < 0) {
    std::fprintf(stderr, "bus_name_owner: system bus: %s\n", std::strerror(-r));
    return 1;
  }
  if (int r = sd_bus_request_name(bus, name, 0); r < 0) {
    std::fprintf(stderr, "bus_name_owner: %s: %s\n", name, std::strerror(-r));
    return 1;
  }
  std::printf("owner of %s\n", name);
  std::fflush(stdout);
  for (;;) {
    int r = sd_bus_process(bus, nullptr);
    if (r < 0) return 1;
    if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0) return 1;
  }
}
