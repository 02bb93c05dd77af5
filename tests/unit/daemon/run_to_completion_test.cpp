// run_to_completion: how a helper program ended, its bounded output, the deadline
// that kills its whole process group, the environment, and an abandoned run.
#include "daemon/process/run_to_completion.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace tether::process {
namespace {

using namespace std::chrono_literals;
using Ended = ProgramOutcome::Ended;

ProgramRun shell(const std::string& script) {
  ProgramRun run;
  run.argv = {"/bin/sh", "-c", script};
  run.timeout = 10s;
  return run;
}

TEST(RunToCompletion, ExitStatusAndOutputOfBothStreams) {
  auto ran = run_to_completion(shell("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(ran.ok()) << ran.error().message();
  EXPECT_EQ(ran->ended, Ended::kExited);
  EXPECT_EQ(ran->code, 3);
  EXPECT_FALSE(ran->succeeded());
  EXPECT_EQ(ran->output, "out\nerr\n");
  EXPECT_EQ(ran->describe(10s), "exited with status 3");
}

TEST(RunToCompletion, StderrCanBeDiscarded) {
  ProgramRun run = shell("echo out; echo err >&2");
  run.capture_stderr = false;
  auto ran = run_to_completion(run);
  ASSERT_TRUE(ran.ok());
  EXPECT_TRUE(ran->succeeded());
  EXPECT_EQ(ran->output, "out\n");
}

TEST(RunToCompletion, OutputIsBoundedHeadOrTail) {
  ProgramRun run = shell("i=0; while [ $i -lt 2000 ]; do printf '%04d' $i; i=$((i+1)); done");
  run.max_output = 8;
  run.keep = ProgramRun::Keep::kTail;
  auto tail = run_to_completion(run);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->output, "19981999");
  run.keep = ProgramRun::Keep::kHead;
  auto head = run_to_completion(run);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->output, "00000001");
}

TEST(RunToCompletion, ASignalIsReported) {
  auto ran = run_to_completion(shell("kill -TERM $$"));
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->ended, Ended::kSignalled);
  EXPECT_EQ(ran->code, SIGTERM);
  EXPECT_EQ(ran->describe(1s), "killed by signal 15");
}

TEST(RunToCompletion, TheDeadlineKillsTheWholeGroup) {
  const auto marker =
      std::filesystem::temp_directory_path() / ("run-to-completion-" + std::to_string(::getpid()));
  std::filesystem::remove(marker);
  // A background child that would write the marker after the deadline, and a parent
  // that closes its output and sleeps: both must be gone at the deadline.
  ProgramRun run = shell("(sleep 2; touch " + marker.string() +
                         ") >/dev/null 2>&1 & exec >/dev/null 2>&1; sleep 30");
  run.timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  auto ran = run_to_completion(run);
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->ended, Ended::kTimedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(ran->describe(300ms).rfind("timed out after 0.3", 0), 0U) << ran->describe(300ms);
  std::this_thread::sleep_for(2500ms);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the background child outlived the deadline";
  std::filesystem::remove(marker);
}

TEST(RunToCompletion, EnvironmentIsAddedAndReplaced) {
  ::setenv("TETHER_RUN_TEST_A", "old", 1);
  ProgramRun run = shell("printf '%s %s' \"$TETHER_RUN_TEST_A\" \"$TETHER_RUN_TEST_B\"");
  run.environment = {{"TETHER_RUN_TEST_A", "new"}, {"TETHER_RUN_TEST_B", "b"}};
  auto ran = run_to_completion(run);
  ::unsetenv("TETHER_RUN_TEST_A");
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->output, "new b");
}

TEST(RunToCompletion, AnAbandonedRunLeavesTheProgramRunning) {
  std::atomic<bool> stop{false};
  ProgramRun run = shell("sleep 2");
  run.abandon = [&stop] { return stop.load(); };
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(100ms);
    stop = true;
  });
  const auto started = std::chrono::steady_clock::now();
  auto ran = run_to_completion(run);
  stopper.join();
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->ended, Ended::kAbandoned);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST(RunToCompletion, AMissingProgramIsAnErrorNamingIt) {
  ProgramRun run;
  run.argv = {"/nonexistent/tether-helper"};
  auto ran = run_to_completion(run);
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(ran.error().code(), ErrorCode::kIo);
  EXPECT_NE(ran.error().message().find("/nonexistent/tether-helper"), std::string::npos);
  EXPECT_FALSE(run_to_completion(ProgramRun{}).ok());
}

}  // namespace
}  // namespace tether::process
