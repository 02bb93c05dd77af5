// monitoring-throughput: durable records per second end to end — Telemetry1.Submit
// over a private D-Bus, committed by tetherd's store, sent over TLS to a backend that
// acknowledges them — with 1, 8 and 64 concurrent callers (telemetry_flood), next to
// the floor measured in the same run: a bare D-Bus round trip to tetherd
// (org.freedesktop.DBus.Peer.Ping) with the same concurrency. Prints Submit p50/p99,
// the daemon's CPU per 10 000 records, and the ceiling that callers waiting for
// their reply put on it (callers x commits/s).
//
//   monitoring-throughput [--records N]
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/monitoring.hpp"
#include "tests/support/certificates.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/private_bus.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace wire = tether::protocol::monitoring;

double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Run {
  double seconds = 0;
  std::string flood_line;
};

// Runs telemetry_flood; with a backend `acker`, waits until it has seen `last_seq`.
Run run_flood(const tether::test::PrivateBus& bus, const std::string& stream, std::size_t count,
              std::size_t concurrency, const std::atomic<std::uint64_t>* received,
              std::uint64_t last_seq) {
  Run run;
  const auto started = std::chrono::steady_clock::now();
  auto done =
      bus.run(FLOOD_PATH,
              {stream, std::to_string(count), std::to_string(concurrency), "0", "--quiet"}, 300s);
  if (received != nullptr) {
    while (received->load() < last_seq && std::chrono::steady_clock::now() - started < 120s)
      std::this_thread::sleep_for(1ms);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (done.ok()) {
    const auto at = done->output.find("done ");
    run.flood_line = at == std::string::npos ? done->output : done->output.substr(at);
    while (!run.flood_line.empty() && run.flood_line.back() == '\n') run.flood_line.pop_back();
  }
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t records = 10000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--records") records = std::stoul(argv[i + 1]);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  tether::test::TempDir dir;
  auto certs = tether::test::Certificates::make(dir.path());
  if (!certs.ok()) return 1;
  const std::string token = dir.write("token", "bench-token\n").string();
  tether::test::TestServer::Options options;
  options.cert_file = certs->server_cert.string();
  options.key_file = certs->server_key.string();
  tether::test::TestServer server(options);
  if (!server.start().ok()) return 1;
  auto bus = tether::test::PrivateBus::start();
  if (!bus.ok()) return 1;
  (*bus)->export_address();
  auto daemon = tether::test::DaemonProcess::start(
      TETHERD_PATH, {"--server.url=" + server.url(), "--server.token-file=" + token,
                     "--server.ca-file=" + certs->ca_cert.string(), "--dbus.bus=session",
                     "--device.id=bench", "--device.state-dir=" + (dir.path() / "state").string(),
                     "--monitoring.inventory-dir=" + (dir.path() / "none").string(),
                     "--shell.enabled=false", "--log.level=warn"});
  if (!daemon.ok() || !server.wait_for_connection(10s)) return 1;
  std::this_thread::sleep_for(500ms);  // the name is owned, status sent

  // The backend: acknowledges every 32 records (cumulatively), and whenever idle.
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> stop{false};
  std::thread acker([&] {
    std::uint64_t unacked = 0;
    while (!stop.load()) {
      auto msg = server.receive_message(5ms);
      if (!msg) {
        if (unacked > 0) {
          server.send(tether::protocol::make_msg(0x0010, "ack", {}, {},
                                                 wire::Ack{received.load()}.encode()));
          unacked = 0;
        }
        continue;
      }
      if (msg->hdr.proto != 0x0010 || msg->hdr.typ != "data") continue;
      auto body = tether::protocol::decode_value(msg->body);
      if (!body) continue;
      const auto* seq = body->find("seq");
      if (seq == nullptr || !seq->as_uint()) continue;
      received.store(*seq->as_uint());
      if (++unacked >= 32) {
        server.send(
            tether::protocol::make_msg(0x0010, "ack", {}, {}, wire::Ack{*seq->as_uint()}.encode()));
        unacked = 0;
      }
    }
  });

  std::printf(
      "monitoring-throughput: %zu records per run, Submit -> committed -> sent over "
      "TLS -> acknowledged\n",
      records);
  std::printf("%-8s %14s %14s %8s  %s\n", "callers", "records/s", "ping floor/s", "ratio",
              "Submit latency (telemetry_flood) / tetherd CPU per 10k");
  std::uint64_t last = 0;
  for (std::size_t callers : {std::size_t{1}, std::size_t{8}, std::size_t{64}}) {
    const std::size_t count = callers == 1 ? records / 5 : records;
    const double cpu_before = cpu_seconds((*daemon)->pid());
    last += count;
    const Run submit = run_flood(**bus, "bench", count, callers, &received, last);
    const double cpu = cpu_seconds((*daemon)->pid()) - cpu_before;
    const Run ping = run_flood(**bus, "--ping", count, callers, nullptr, 0);
    const double rate = static_cast<double>(count) / submit.seconds;
    const double floor = static_cast<double>(count) / ping.seconds;
    std::printf("%-8zu %14.0f %14.0f %8.2f  %s / %.2f s\n", callers, rate, floor, rate / floor,
                submit.flood_line.c_str(), cpu * 10000.0 / static_cast<double>(count));
  }
  stop.store(true);
  acker.join();
  return 0;
}
