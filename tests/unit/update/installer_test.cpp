// The installer run: arguments and environment, exit status, captured output (its
// tail), a timeout that kills the whole process group, and a stop that leaves it be.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "plugins/update/installer_run.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/update/key_tools.hpp"

namespace tether::plugins::update {
namespace {

using namespace std::chrono_literals;

class InstallerTest : public ::testing::Test {
 protected:
  InstallerRequest request(const std::string& script) {
    auto path = dir_.write("installer", "#!/bin/sh\n" + script);
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    InstallerRequest r;
    r.installer = path.string();
    r.artifact = (dir_.path() / "artifact").string();
    r.environment = {{"TETHER_UPDATE_ID", "u1"}, {"TETHER_UPDATE_VERSION", "2.0"}};
    r.timeout = 5s;
    r.max_output = 64;
    return r;
  }
  tether::test::TempDir dir_;
  CancelToken stop_;
};

TEST_F(InstallerTest, ExitZeroIsSuccessWithArgumentAndEnvironment) {
  auto outcome =
      run_installer(request("echo \"$1 $TETHER_UPDATE_ID $TETHER_UPDATE_VERSION\"\n"), stop_);
  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_TRUE(outcome->success);
  EXPECT_EQ(outcome->output_tail, (dir_.path() / "artifact").string().substr(0, 0) +
                                      (dir_.path() / "artifact").string() + " u1 2.0\n");
}

TEST_F(InstallerTest, NonZeroExitIsFailureWithTheOutputTail) {
  auto outcome =
      run_installer(request("i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done\n"
                            "echo 'dpkg: error' >&2; exit 3\n"),
                    stop_);
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->success);
  EXPECT_EQ(outcome->reason, "exited with status 3");
  EXPECT_LE(outcome->output_tail.size(), 64U);
  EXPECT_TRUE(outcome->output_tail.ends_with("line 99\ndpkg: error\n")) << outcome->output_tail;
}

TEST_F(InstallerTest, HangingInstallerIsKilledAtItsTimeoutWithItsChildren) {
  auto pid_file = dir_.path() / "child.pid";
  auto r = request("sleep 30 & echo $! > '" + pid_file.string() + "'; echo started; wait\n");
  r.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto outcome = run_installer(r, stop_);
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->success);
  EXPECT_NE(outcome->reason.find("timed out"), std::string::npos);
  EXPECT_EQ(outcome->output_tail, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  const pid_t child = std::stoi(test::slurp(pid_file));
  // The background child was in the installer's group and is gone too (or a zombie
  // of init, which kill(0) still sees briefly): wait for it to vanish.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(child, 0) != 0;
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone);
}

TEST_F(InstallerTest, MissingInstallerIsAnError) {
  InstallerRequest r = request("exit 0\n");
  r.installer = (dir_.path() / "nope").string();
  auto outcome = run_installer(r, stop_);
  EXPECT_FALSE(outcome);
}

TEST_F(InstallerTest, StopReturnsWithoutKillingTheInstaller) {
  auto marker = dir_.path() / "finished";
  auto r = request("sleep 0.4; touch '" + marker.string() + "'\n");
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop_.cancel();
  });
  auto outcome = run_installer(r, stop_);
  stopper.join();
  EXPECT_FALSE(outcome);
  bool finished = false;
  for (int i = 0; i < 100 && !finished; ++i) {
    finished = std::filesystem::exists(marker);
    if (!finished) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace tether::plugins::update
