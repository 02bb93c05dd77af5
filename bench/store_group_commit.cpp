// store-group-commit: acknowledged appends/s and syncs/s of the durable store with
// 1, 8, 64 (and more) concurrent writers, each waiting for its ack before its next
// append, next to the physical floor measured in the same run on the same file
// system: how many write+fdatasync rounds per second the disk completes.
//
// With one sync per transaction, W writers can at most get W appends acknowledged
// per sync, so W x floor is the ceiling that group commit can reach; the ratio to it
// says how much of the disk the store leaves on the table.
//
//   store-group-commit [--dir DIR] [--seconds S] [--writers 1,8,64,512] [--open-mb 16]
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/loop/event_loop.hpp"
#include "daemon/store/durable_store.hpp"

namespace {

namespace fs = std::filesystem;
using tether::daemon::EventLoop;
using tether::daemon::Timer;
using tether::daemon::store::Bytes;
using tether::daemon::store::DurableStore;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// write(4 KiB) + fdatasync in a loop on a preallocated file, overwriting in place
// (as SQLite reuses its WAL after a checkpoint): the syncs/s this disk can do.
double sync_floor(const fs::path& dir, double seconds) {
  const fs::path file = dir / "sync-floor.probe";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror("sync floor");
    std::exit(1);
  }
  std::vector<char> block(4096, 'f');
  for (int i = 0; i < 256; ++i) (void)!::write(fd, block.data(), block.size());
  ::fsync(fd);
  long rounds = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    const auto offset = static_cast<off_t>((rounds % 256) * 4096);
    if (::pwrite(fd, block.data(), block.size(), offset) < 0 || ::fdatasync(fd) != 0) {
      std::perror("sync floor");
      std::exit(1);
    }
    ++rounds;
  }
  const double rate = static_cast<double>(rounds) / seconds_since(start);
  ::close(fd);
  fs::remove(file);
  return rate;
}

struct Outcome {
  double appends_per_s = 0;
  double transactions_per_s = 0;
};

Outcome run_writers(const fs::path& dir, int writers, double seconds) {
  fs::remove_all(dir);
  auto loop = EventLoop::create();
  if (!loop.ok()) std::exit(1);
  DurableStore::Options options;
  options.directory = dir;
  auto opened = DurableStore::open(**loop, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.error().message().c_str());
    std::exit(1);
  }
  DurableStore& store = **opened;
  const Bytes record(100, 'r');  // about a monitoring data record
  long acked = 0;
  bool measuring = true;
  std::function<void()> append_next = [&] {
    store.append("bench", record, [&](tether::Result<std::uint64_t> seq) {
      if (!seq.ok()) {
        std::fprintf(stderr, "append failed: %s\n", seq.error().message().c_str());
        std::exit(1);
      }
      if (!measuring) return;
      ++acked;
      append_next();
    });
  };
  const auto before = store.counters();
  const auto start = Clock::now();
  for (int i = 0; i < writers; ++i) append_next();
  Timer end(**loop);
  double elapsed = 0;
  DurableStore::Counters after;
  end.start(std::chrono::milliseconds(static_cast<long>(seconds * 1000)), [&] {
    measuring = false;
    elapsed = seconds_since(start);
    after = store.counters();
    (*loop)->stop();
  });
  (*loop)->run();
  opened->reset();
  fs::remove_all(dir);
  return Outcome{static_cast<double>(acked) / elapsed,
                 static_cast<double>(after.transactions - before.transactions) / elapsed};
}

// Drops a file from the page cache so that the next reader gets it from the disk.
void drop_cache(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// How long open() takes on a database holding `megabytes` of records: the cost of
// the quick_check and of loading the log stats at daemon start.
double open_seconds(const fs::path& dir, int megabytes, double& quick_check_seconds) {
  fs::remove_all(dir);
  {
    auto loop = EventLoop::create();
    DurableStore::Options options;
    options.directory = dir;
    auto store = DurableStore::open(**loop, options);
    if (!store.ok()) std::exit(1);
    const int batches = megabytes * 16;  // 64 KiB of 256-byte records each
    int left = batches;
    for (int b = 0; b < batches; ++b) {
      std::vector<Bytes> records(256, Bytes(256, 'o'));
      (*store)->append_batch("bench", std::move(records), [&](tether::Result<std::uint64_t>) {
        if (--left == 0) (*loop)->stop();
      });
    }
    (*loop)->run();
  }
  drop_cache(dir / "tether.db");
  {
    sqlite3* db = nullptr;
    const auto check_start = Clock::now();
    if (sqlite3_open_v2((dir / "tether.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
      (void)sqlite3_exec(db, "PRAGMA quick_check", nullptr, nullptr, nullptr);
    }
    sqlite3_close(db);
    quick_check_seconds = seconds_since(check_start);
  }
  drop_cache(dir / "tether.db");
  auto loop = EventLoop::create();
  DurableStore::Options options;
  options.directory = dir;
  const auto start = Clock::now();
  auto store = DurableStore::open(**loop, options);
  const double took = seconds_since(start);
  if (!store.ok()) std::exit(1);
  store->reset();
  fs::remove_all(dir);
  return took;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path base = "/var/tmp";
  double seconds = 3;
  std::vector<int> writer_counts = {1, 8, 64, 512};
  int open_mb = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--dir") {
      base = value;
    } else if (flag == "--seconds") {
      seconds = std::stod(value);
    } else if (flag == "--open-mb") {
      open_mb = std::stoi(value);
    } else if (flag == "--writers") {
      writer_counts.clear();
      std::stringstream list(value);
      std::string item;
      while (std::getline(list, item, ',')) writer_counts.push_back(std::stoi(item));
    } else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  const fs::path dir = base / ("tether-store-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  std::printf("directory %s\n", dir.c_str());
  std::printf("floor = write 4 KiB + fdatasync rounds/s, measured just before each row\n\n");
  std::printf("%8s %10s %12s %10s %12s %14s %12s %12s\n", "writers", "floor", "appends/s", "txn/s",
              "appends/txn", "ceiling W*fl", "of ceiling", "txn/floor");
  for (int writers : writer_counts) {
    // The disk is shared with whatever else runs: the floor is measured next to each
    // row so that the ratios compare like with like.
    const double floor = sync_floor(dir, std::min(seconds, 1.5));
    const Outcome outcome = run_writers(dir / "db", writers, seconds);
    const double ceiling = floor * writers;
    std::printf("%8d %10.0f %12.0f %10.0f %12.1f %14.0f %11.0f%% %11.0f%%\n", writers, floor,
                outcome.appends_per_s, outcome.transactions_per_s,
                outcome.appends_per_s / outcome.transactions_per_s, ceiling,
                100.0 * outcome.appends_per_s / ceiling,
                100.0 * outcome.transactions_per_s / floor);
    std::fflush(stdout);
  }
  if (open_mb > 0) {
    double quick_check = 0;
    const double open = open_seconds(dir / "open", open_mb, quick_check);
    std::printf(
        "\nopen of a store holding a %d MiB log, cold cache: %.0f ms "
        "(PRAGMA quick_check alone, cold cache: %.0f ms)\n",
        open_mb, 1000.0 * open, 1000.0 * quick_check);
  }
  fs::remove_all(dir);
  return 0;
}
