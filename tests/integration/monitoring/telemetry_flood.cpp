// A Telemetry1 client for tests and the benchmark: submits COUNT records on STREAM
// with CONCURRENCY calls in flight (sdbus-c++ asynchronous calls), each with values
// {i: <index>, pad: <PAD bytes of text>}. Prints "seq N" for every reply as it
// arrives (flushed, so a test can read it while the client runs), then
// "done ok=N failed=M p50_us=.. p99_us=..". Retries a call refused with Busy.
//
//   telemetry_flood STREAM COUNT CONCURRENCY [PAD] [--quiet]
//
// With STREAM "--ping" it calls org.freedesktop.DBus.Peer.Ping on tetherd instead:
// the floor of a D-Bus round trip to the daemon, for the benchmark.
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t in_flight = 0;
  std::size_t ok = 0;
  std::size_t failed = 0;
  std::vector<std::size_t> retry;
  std::vector<std::int64_t> latencies_us;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: telemetry_flood STREAM COUNT CONCURRENCY [PAD] [--quiet]\n");
    return 2;
  }
  const std::string stream = argv[1];
  const std::size_t count = std::stoul(argv[2]);
  const std::size_t concurrency = std::max<std::size_t>(1, std::stoul(argv[3]));
  const std::size_t pad = argc > 4 ? std::stoul(argv[4]) : 0;
  const bool quiet = argc > 5 && std::string(argv[5]) == "--quiet";
  try {
    auto connection = sdbus::createSessionBusConnection();
    auto proxy = sdbus::createProxy(*connection, "io.tether.Gateway1", "/io/tether/Gateway1");
    proxy->finishRegistration();
    connection->enterEventLoopAsync();
    Shared shared;
    shared.latencies_us.reserve(count);
    const std::string padding(pad, 'x');
    const bool ping = stream == "--ping";
    auto finish = [&shared, quiet](std::size_t index, std::chrono::steady_clock::time_point started,
                                   const sdbus::Error* error, std::uint64_t seq) {
      const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
      std::lock_guard lock(shared.mutex);
      --shared.in_flight;
      if (error == nullptr) {
        ++shared.ok;
        shared.latencies_us.push_back(took);
        if (!quiet) std::printf("seq %llu\n", static_cast<unsigned long long>(seq));
        std::fflush(stdout);
      } else if (error->getName() == "io.tether.Error.Busy") {
        shared.retry.push_back(index);
      } else {
        ++shared.failed;
        std::printf("error %s: %s\n", error->getName().c_str(), error->getMessage().c_str());
        std::fflush(stdout);
      }
      shared.changed.notify_all();
    };
    auto send = [&](std::size_t index) {
      const auto started = std::chrono::steady_clock::now();
      if (ping) {
        proxy->callMethodAsync("Ping")
            .onInterface("org.freedesktop.DBus.Peer")
            .uponReplyInvoke([&finish, index, started](const sdbus::Error* error) {
              finish(index, started, error, 0);
            });
        return;
      }
      std::map<std::string, sdbus::Variant> values{{"i", sdbus::Variant(std::int64_t(index))}};
      if (pad > 0) values.emplace("pad", sdbus::Variant(padding));
      proxy->callMethodAsync("Submit")
          .onInterface("io.tether.Telemetry1")
          .withArguments(stream, values)
          .uponReplyInvoke([&finish, index, started](const sdbus::Error* error, std::uint64_t seq) {
            finish(index, started, error, seq);
          });
    };
    std::size_t next = 0;
    std::unique_lock lock(shared.mutex);
    while (shared.ok + shared.failed < count) {
      shared.changed.wait(lock, [&] {
        return shared.in_flight < concurrency &&
               (next < count || !shared.retry.empty() || shared.ok + shared.failed >= count);
      });
      if (shared.ok + shared.failed >= count) break;
      std::size_t index = 0;
      if (!shared.retry.empty()) {
        index = shared.retry.back();
        shared.retry.pop_back();
      } else if (next < count) {
        index = next++;
      } else {
        continue;
      }
      ++shared.in_flight;
      lock.unlock();
      send(index);
      lock.lock();
    }
    auto& l = shared.latencies_us;
    std::sort(l.begin(), l.end());
    const auto at = [&](double q) {
      return l.empty() ? 0
                       : l[std::min(l.size() - 1,
                                    static_cast<std::size_t>(q * static_cast<double>(l.size())))];
    };
    std::printf("done ok=%zu failed=%zu p50_us=%lld p99_us=%lld\n", shared.ok, shared.failed,
                static_cast<long long>(at(0.5)), static_cast<long long>(at(0.99)));
    std::fflush(stdout);
    lock.unlock();
    connection->leaveEventLoop();
    return shared.failed == 0 ? 0 : 1;
  } catch (const sdbus::Error& error) {
    std::fprintf(stderr, "telemetry_flood: %s\n", error.getMessage().c_str());
    return 1;
  }
}
