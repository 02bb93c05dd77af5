#include "daemon/loop/event_loop.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "daemon/loop/short_timer.hpp"

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

// Two fds ready in the same turn: the first callback destroys the second watch, whose
// event must then be dropped instead of calling into freed memory (ASan checks).
TEST(EventLoopTest, AWatchDestroyedByAnotherCallbackInTheSameTurnIsNotCalled) {
  auto loop = make_loop();
  int a[2];
  int b[2];
  ASSERT_EQ(::pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(::write(a[1], "x", 1), 1);
  ASSERT_EQ(::write(b[1], "x", 1), 1);
  std::unique_ptr<FdWatch> first;
  std::unique_ptr<FdWatch> second;
  int calls = 0;
  auto read_and_destroy_other = [&](int fd, std::unique_ptr<FdWatch>& other) {
    ++calls;
    char byte;
    EXPECT_EQ(::read(fd, &byte, 1), 1);
    other.reset();
  };
  first =
      std::move(FdWatch::create(*loop, a[0],
                                {[&] { read_and_destroy_other(a[0], second); }, nullptr, nullptr}))
          .value();
  second =
      std::move(FdWatch::create(*loop, b[0],
                                {[&] { read_and_destroy_other(b[0], first); }, nullptr, nullptr}))
          .value();
  Timer end(*loop);
  end.start(100ms, [&] { loop->stop(); });
  run_with_deadline(*loop);
  EXPECT_EQ(calls, 1);
  for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
}

TEST(EventLoopTest, AWatchMayDestroyItselfInItsOwnCallback) {
  auto loop = make_loop();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  std::unique_ptr<FdWatch> watch;
  int calls = 0;
  watch = std::move(FdWatch::create(*loop, fds[0],
                                    {[&] {
                                       ++calls;
                                       watch.reset();
                                     },
                                     nullptr, [&] { ++calls; }}))
              .value();
  ::close(fds[1]);  // readable and hung up in the same turn
  Timer end(*loop);
  end.start(100ms, [&] { loop->stop(); });
  run_with_deadline(*loop);
  EXPECT_EQ(calls, 1);
  ::close(fds[0]);
}

// The watch registers its own dup: the caller closing its fd first neither breaks the
// watch nor leaves a registration that outlives it.
TEST(EventLoopTest, AWatchKeepsWorkingAfterTheCallerClosesItsFd) {
  auto loop = make_loop();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  std::string got;
  std::unique_ptr<FdWatch> watch;
  int dup_fd = -1;
  watch = std::move(FdWatch::create(*loop, fds[0],
                                    {[&] {
                                       char buffer[8];
                                       const ssize_t n = ::read(dup_fd, buffer, sizeof buffer);
                                       if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
                                       loop->stop();
                                     },
                                     nullptr, nullptr}))
              .value();
  dup_fd = ::dup(fds[0]);
  ::close(fds[0]);
  ASSERT_EQ(::write(fds[1], "ok", 2), 2);
  run_with_deadline(*loop);
  EXPECT_EQ(got, "ok");
  watch.reset();
  ::close(dup_fd);
  ::close(fds[1]);
}

// Hangup comes after the reader has taken the last bytes, exactly once.
TEST(EventLoopTest, HangupIsReportedOnceAfterTheLastBytesAreRead) {
  auto loop = make_loop();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(::write(fds[1], "tail", 4), 4);
  ::close(fds[1]);
  std::string got;
  int hangups = 0;
  std::unique_ptr<FdWatch> watch;
  watch = std::move(FdWatch::create(*loop, fds[0],
                                    {[&] {
                                       char buffer[2];  // two turns to drain
                                       const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
                                       if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
                                       if (n == 0) watch->want_readable(false);
                                     },
                                     nullptr, [&] { ++hangups; }}))
              .value();
  Timer end(*loop);
  end.start(150ms, [&] { loop->stop(); });
  run_with_deadline(*loop);
  EXPECT_EQ(got, "tail");
  EXPECT_EQ(hangups, 1);
  watch.reset();
  ::close(fds[0]);
}

TEST(ShortTimerTest, FiresAfterASubMillisecondDelayAndCanBeReArmedFromItsCallback) {
  auto loop = make_loop();
  auto created = ShortTimer::create(*loop);
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto& timer = *created.value();
  std::vector<std::chrono::steady_clock::time_point> fired;
  const auto start = std::chrono::steady_clock::now();
  std::function<void()> tick = [&] {
    fired.push_back(std::chrono::steady_clock::now());
    if (fired.size() < 5) {
      timer.start(200us, tick);
    } else {
      loop->stop();
    }
  };
  timer.start(200us, tick);
  EXPECT_TRUE(timer.pending());
  run_with_deadline(*loop);
  ASSERT_EQ(fired.size(), 5u);
  EXPECT_FALSE(timer.pending());
  // Never early; not stretched to lws's millisecond timer granularity either (a loose
  // upper bound: this is a correctness test, not a benchmark).
  EXPECT_GE(fired.front() - start, 200us);
  EXPECT_GE(fired.back() - start, 1000us);
}

TEST(ShortTimerTest, CancelAndDestroyStopIt) {
  auto loop = make_loop();
  auto a = std::move(ShortTimer::create(*loop)).value();
  auto b = std::move(ShortTimer::create(*loop)).value();
  int fired = 0;
  a->start(100us, [&] { ++fired; });
  b->start(100us, [&] { ++fired; });
  a->cancel();
  EXPECT_FALSE(a->pending());
  b.reset();
  Timer end(*loop);
  end.start(50ms, [&] { loop->stop(); });
  run_with_deadline(*loop);
  EXPECT_EQ(fired, 0);
}

TEST(ShortTimerTest, ATimerMayDestroyItselfInItsCallback) {
  auto loop = make_loop();
  auto timer = std::move(ShortTimer::create(*loop)).value();
  int fired = 0;
  timer->start(100us, [&] {
    ++fired;
    timer.reset();
    loop->stop();
  });
  run_with_deadline(*loop);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(timer, nullptr);
}

TEST(ShortTimerTest, RepeatingTicksUntilCancelledFromItsCallback) {
  auto loop = make_loop();
  auto timer = std::move(ShortTimer::create(*loop)).value();
  int ticks = 0;
  timer->start_repeating(200us, [&] {
    EXPECT_TRUE(timer->pending());  // still armed between ticks
    if (++ticks == 5) timer->cancel();
  });
  Timer end(*loop);
  end.start(50ms, [&] { loop->stop(); });
  run_with_deadline(*loop);
  EXPECT_EQ(ticks, 5);
  EXPECT_FALSE(timer->pending());
}

}  // namespace
}  // namespace tether::daemon
