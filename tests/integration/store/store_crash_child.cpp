// The process the crash tests kill -9: it writes to a store as fast as it can and
// reports every acknowledged write on stdout, one line each, with write(2) (no
// buffering, so that a line on the pipe means the ack happened before the kill).
//
//   store_crash_child DIR append WRITERS   "seq writer n" per acked append; the record
//                                          is record_payload(writer, n)
//   store_crash_child DIR documents GROUPS "group n" per acked commit of keys
//                                          g<group>/a, /b, /c all set to value n
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "daemon/store/durable_store.hpp"
#include "tests/integration/store/crash_payload.hpp"

namespace {

using tether::daemon::EventLoop;
using tether::daemon::store::DocumentChange;
using tether::daemon::store::DurableStore;

void say(const std::string& line) {
  const std::string out = line + "\n";
  if (::write(STDOUT_FILENO, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
    std::_Exit(3);
  }
}

struct Appender {
  DurableStore* store;
  int writer;
  std::uint64_t n = 0;

  void next() {
    const std::uint64_t current = n++;
    store->append(
        "crash", tether::store_test::record_payload(writer, current),
        [this, current](tether::Result<std::uint64_t> seq) {
          if (!seq.ok()) {
            std::fprintf(stderr, "append failed: %s\n", seq.error().message().c_str());
            std::_Exit(4);
          }
          say(std::to_string(*seq) + " " + std::to_string(writer) + " " + std::to_string(current));
          next();
        });
  }
};

struct Committer {
  DurableStore* store;
  int group;
  std::uint64_t n = 0;

  void next() {
    const std::uint64_t current = ++n;
    DocumentChange change;
    for (const char* key : {"a", "b", "c"}) {
      change.puts.push_back({tether::store_test::document_key(group, key),
                             tether::store_test::document_value(group, current)});
    }
    store->commit(std::move(change), [this, current](tether::Status status) {
      if (!status.ok()) {
        std::fprintf(stderr, "commit failed: %s\n", status.error().message().c_str());
        std::_Exit(4);
      }
      say(std::to_string(group) + " " + std::to_string(current));
      next();
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DIR append|documents COUNT\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[2];
  const int count = std::atoi(argv[3]);
  auto loop = EventLoop::create();
  if (!loop.ok()) return 1;
  DurableStore::Options options;
  options.directory = argv[1];
  auto store = DurableStore::open(**loop, options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().message().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<Appender>> appenders;
  std::vector<std::unique_ptr<Committer>> committers;
  for (int i = 0; i < count; ++i) {
    if (mode == "append") {
      appenders.push_back(std::make_unique<Appender>(Appender{store->get(), i}));
      appenders.back()->next();
    } else {
      committers.push_back(std::make_unique<Committer>(Committer{store->get(), i}));
      committers.back()->next();
    }
  }
  say("ready");
  (*loop)->run();  // until killed
  return 0;
}
