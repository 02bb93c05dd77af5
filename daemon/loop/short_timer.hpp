// A one-shot timer for delays shorter than a millisecond.
//
// Why it exists: lws timers are served by poll(), whose timeout is whole
// milliseconds, so a 100 µs delay would either spin or stretch to 1 ms. This timer
// is a timerfd watched on the loop: the kernel's high-resolution timer wakes poll()
// on time. The shell plugin uses it to read a streaming terminal at a steady pace
// (see docs/performance.md).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "daemon/loop/event_loop.hpp"
#include "protocol/result.hpp"

namespace tether::daemon {

class ShortTimer {
 public:
  static Result<std::unique_ptr<ShortTimer>> create(EventLoop& loop);
  ~ShortTimer();
  ShortTimer(const ShortTimer&) = delete;
  ShortTimer& operator=(const ShortTimer&) = delete;

  // (Re)arms the timer; a pending expiry is replaced. `delay` is at least 1 µs.
  void start(std::chrono::microseconds delay, std::function<void()> fn);
  // Calls `fn` every `interval` until cancel(): one timerfd_settime for a whole run
  // of ticks instead of one per tick. Expiries missed while the loop was busy are
  // not made up for (one call per wakeup).
  void start_repeating(std::chrono::microseconds interval, std::function<void()> fn);
  void cancel();
  bool pending() const { return pending_; }

 private:
  explicit ShortTimer(int timer_fd);
  void arm(std::chrono::microseconds delay, bool repeat, std::function<void()> fn);
  void on_expired();

  int timer_fd_;
  bool pending_ = false;
  bool repeating_ = false;
  std::function<void()> fn_;
  std::unique_ptr<FdWatch> watch_;
};

}  // namespace tether::daemon
