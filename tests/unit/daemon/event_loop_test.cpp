#include "daemon/loop/event_loop.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace tether::daemon {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<EventLoop> make_loop() {
  auto loop = EventLoop::create();
  EXPECT_TRUE(loop.ok());
  return std::move(loop).value();
}

// Stops the loop after `limit` so that a broken test fails instead of hanging.
void run_with_deadline(EventLoop& loop, std::chrono::milliseconds limit = 5s) {
  Timer guard(loop);
  guard.start(limit, [&] {
    ADD_FAILURE() << "loop deadline reached";
    loop.stop();
  });
  loop.run();
}

TEST(EventLoopTest, PostFromAnotherThreadRunsOnTheLoopInOrder) {
  auto loop = make_loop();
  std::vector<int> order;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) loop->post([&order, i] { order.push_back(i); });
    loop->post([&] { loop->stop(); });
  });
  run_with_deadline(*loop);
  poster.join();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(EventLoopTest, TimersFireInOrderAndCancelWorks) {
  auto loop = make_loop();
  std::vector<int> fired;
  Timer a(*loop);
  Timer b(*loop);
  Timer c(*loop);
  a.start(30ms, [&] { fired.push_back(1); });
  b.start(10ms, [&] { fired.push_back(0); });
  c.start(20ms, [&] { fired.push_back(99); });
  EXPECT_TRUE(c.pending());
  c.cancel();
  EXPECT_FALSE(c.pending());
  Timer end(*loop);
  end.start(60ms, [&] { loop->stop(); });
  const auto start = std::chrono::steady_clock::now();
  run_with_deadline(*loop);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 55ms);
  EXPECT_EQ(fired, (std::vector<int>{0, 1}));
}

TEST(EventLoopTest, DestroyingATimerCancelsIt) {
  auto loop = make_loop();
  bool fired = false;
  {
    Timer t(*loop);
    t.start(10ms, [&] { fired = true; });
  }
  Timer end(*loop);
  end.start(40ms, [&] { loop->stop(); });
  run_with_deadline(*loop);
  EXPECT_FALSE(fired);
}

TEST(EventLoopTest, RunBlockingReturnsOnTheLoopThread) {
  auto loop = make_loop();
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id worker_thread;
  bool done_on_loop = false;
  loop->run_blocking([&] { worker_thread = std::this_thread::get_id(); },
                     [&] {
                       done_on_loop = std::this_thread::get_id() == loop_thread;
                       loop->stop();
                     });
  run_with_deadline(*loop);
  EXPECT_NE(worker_thread, loop_thread);
  EXPECT_TRUE(done_on_loop);
}

TEST(EventLoopTest, FdWatchReportsReadableWritableAndHangup) {
  auto loop = make_loop();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  std::string got;
  bool hung_up = false;
  Result<std::unique_ptr<FdWatch>> writer = Error("not yet");
  auto watch = FdWatch::create(*loop, fds[0],
                               {[&] {
                                  char buffer[64];
                                  ssize_t n;
                                  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0)
                                    got.append(buffer, static_cast<std::size_t>(n));
                                  if (got == "hello") {
                                    // The writer's watch holds a dup of fds[1]: both go.
                                    writer = Error("closed");
                                    ::close(fds[1]);
                                  }
                                },
                                nullptr,
                                [&] {
                                  hung_up = true;
                                  loop->stop();
                                }});
  ASSERT_TRUE(watch.ok());
  int writes = 0;
  // The writable callback writes; the readable one then sees the bytes.
  writer = FdWatch::create(*loop, fds[1],
                           {nullptr,
                            [&] {
                              ++writes;
                              EXPECT_EQ(::write(fds[1], "hello", 5), 5);
                            },
                            nullptr});
  ASSERT_TRUE(writer.ok());
  (*writer)->want_writable(true);
  run_with_deadline(*loop);
  EXPECT_EQ(got, "hello");
  EXPECT_TRUE(hung_up);
  EXPECT_EQ(writes, 1);
  ::close(fds[0]);
}

TEST(EventLoopTest, FlowControlPausesReadableCallbacks) {
  auto loop = make_loop();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  int readable = 0;
  std::unique_ptr<FdWatch> watch;
  auto created = FdWatch::create(*loop, fds[0], {[&] { ++readable; }, nullptr, nullptr});
  ASSERT_TRUE(created.ok());
  watch = std::move(created).value();
  watch->want_readable(false);
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  Timer check(*loop);
  check.start(100ms, [&] {
    EXPECT_EQ(readable, 0);
    watch->want_readable(true);
    check.start(100ms, [&] { loop->stop(); });
  });
  run_with_deadline(*loop);
  EXPECT_GT(readable, 0);
  watch.reset();
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace tether::daemon
