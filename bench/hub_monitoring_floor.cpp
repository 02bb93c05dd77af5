// hub-monitoring-floor: the hub's monitoring store alone, no sockets. Queues N
// one-record appends (as the intake does, one per message) as fast as it can and
// waits for every completion: the store's raw batched insert rate, the floor under
// the hub's ingest rate that bench/hub-ingest.mjs measures end to end.
//
//   hub-monitoring-floor [records=50000] [devices=8] [store.url=sqlite:<temp dir>]
//
// With a postgresql:// URL the store's tables go into that (empty) database.
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "hub/store/sql_monitoring_store.hpp"

int main(int argc, char** argv) {
  using tether::hub::MonitoringRecord;
  using tether::hub::MonitoringRetention;
  using tether::hub::SqlMonitoringStore;
  namespace sql = tether::hub::sql;
  const long records = argc > 1 ? std::atol(argv[1]) : 50000;
  const long devices = argc > 2 ? std::atol(argv[2]) : 8;
  if (records < 1 || devices < 1) {
    std::fprintf(stderr, "usage: hub-monitoring-floor [records] [devices] [store.url]\n");
    return 2;
  }
  char tmpl[] = "/tmp/tether-hub-floor-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  int status = 0;
  {
    auto url = sql::parse_store_url(argc > 3 ? std::string(argv[3]) : "sqlite:" + dir);
    if (!url.ok()) {
      std::fprintf(stderr, "%s\n", url.error().message().c_str());
      return 2;
    }
    auto store = SqlMonitoringStore::open(*url, MonitoringRetention{});
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.error().message().c_str());
      return 1;
    }
    std::atomic<long> done{0};
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < records; ++i) {
      MonitoringRecord r;
      r.seq = static_cast<std::uint64_t>(i / devices + 1);
      r.ts = 1700000000000 + i;
      r.stream = "bench";
      r.body_json = "{\"n\":" + std::to_string(i) + ",\"temp\":21.5}";
      std::vector<MonitoringRecord> one{std::move(r)};
      (*store)->append("dev" + std::to_string(i % devices), std::move(one),
                       [&](const tether::Status& s) {
                         if (s.ok()) ++done;
                       });
    }
    if (auto s = (*store)->flush(); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.error().message().c_str());
      status = 1;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("floor: %ld records committed in %.3f s = %.0f records/s in %llu batches\n",
                done.load(), secs, static_cast<double>(done.load()) / secs,
                static_cast<unsigned long long>((*store)->batches_written()));
  }
  std::filesystem::remove_all(dir);
  return status;
}
