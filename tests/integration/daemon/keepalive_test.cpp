// Keepalive: a link that silently stops carrying bytes is noticed and re-dialled;
// and reconnecting many times leaks neither descriptors nor memory.
#include <dirent.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/daemon/daemon_fixture.hpp"
#include "tests/support/fault_proxy.hpp"

namespace tether::test {
namespace {

using Clock = std::chrono::steady_clock;

std::size_t open_fds(pid_t pid) {
  std::size_t count = 0;
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

std::size_t rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

TEST_F(DaemonTest, BlackHoleIsDetectedWithinPingPlusPongTimeoutAndRedialled) {
  auto proxy = FaultProxy::start(server_->port());
  ASSERT_TRUE(proxy.ok());
  auto& daemon = start_daemon({}, "wss://localhost:" + std::to_string((*proxy)->port()));
  expect_connection();
  std::this_thread::sleep_for(1500ms);  // at least one ping/pong went through
  EXPECT_EQ(daemon.count_in_output("the link is dead"), 0u);

  const std::size_t mark = daemon.output().size();
  const auto holed = Clock::now();
  (*proxy)->black_hole();
  // ping-interval 1 s + pong-timeout 1 s, plus slack for scheduling.
  ASSERT_TRUE(daemon.wait_for_output("the link is dead", 3500ms, mark));
  EXPECT_LT(Clock::now() - holed, 3500ms);

  (*proxy)->resume();
  expect_connection(5s);
}

// Pings keep going while one is unanswered; they must not move the deadline of the
// first one, or a pong timeout longer than the ping interval would never expire.
TEST_F(DaemonTest, BlackHoleIsDetectedWhenThePongTimeoutExceedsThePingInterval) {
  auto proxy = FaultProxy::start(server_->port());
  ASSERT_TRUE(proxy.ok());
  auto& daemon = start_daemon({"--server.ping-interval=0.3", "--server.pong-timeout=1.2"},
                              "wss://localhost:" + std::to_string((*proxy)->port()));
  expect_connection();
  std::this_thread::sleep_for(700ms);  // pings went through and were answered
  EXPECT_EQ(daemon.count_in_output("the link is dead"), 0u);

  const std::size_t mark = daemon.output().size();
  const auto holed = Clock::now();
  (*proxy)->black_hole();
  // ping-interval 0.3 s + pong-timeout 1.2 s, plus slack for scheduling.
  ASSERT_TRUE(daemon.wait_for_output("the link is dead", 3000ms, mark));
  EXPECT_LT(Clock::now() - holed, 3000ms);
}

TEST_F(DaemonTest, TwoHundredReconnectsLeaveDescriptorsAndMemoryFlat) {
  auto& daemon = start_daemon({"--server.backoff-max=0.02", "--log.level=warn"});
  std::size_t fds_before = 0;
  std::size_t rss_before = 0;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(server_->wait_for_connection(5s).has_value()) << "reconnect " << i;
    if (i == 20) {
      fds_before = open_fds(daemon.pid());
      rss_before = rss_kib(daemon.pid());
    }
    ASSERT_TRUE(server_->close(1000));
    ASSERT_TRUE(server_->wait_for_close(5s).has_value());
  }
  ASSERT_TRUE(server_->wait_for_connection(5s).has_value());
  const std::size_t fds_after = open_fds(daemon.pid());
  const std::size_t rss_after = rss_kib(daemon.pid());
  EXPECT_LE(fds_after, fds_before + 1) << fds_before << " -> " << fds_after;
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's allocator keeps freed memory (quarantine, per-size caches),
  // so RSS says nothing there; LeakSanitizer at the clean exit below says more.
  (void)rss_after;
  (void)rss_before;
#else
  EXPECT_LE(rss_after, rss_before + 1024) << rss_before << " KiB -> " << rss_after << " KiB";
#endif
  ASSERT_TRUE(daemon.running());
  // A clean exit after all of it (under LeakSanitizer a leak makes it non-zero).
  daemon.send_signal(SIGTERM);
  EXPECT_EQ(daemon.wait_for_exit(10s), 0);
}

}  // namespace
}  // namespace tether::test
