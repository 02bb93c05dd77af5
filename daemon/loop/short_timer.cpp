#include "daemon/loop/short_timer.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace tether::daemon {

Result<std::unique_ptr<ShortTimer>> ShortTimer::create(EventLoop& loop) {
  const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return Error(ErrorCode::kIo, std::string("timerfd_create: ") + std::strerror(errno));
  std::unique_ptr<ShortTimer> timer(new ShortTimer(fd));
  ShortTimer* self = timer.get();
  auto watch = FdWatch::create(loop, fd,
                               {.on_readable = [self] { self->on_expired(); },
                                .on_writable = nullptr,
                                .on_hangup = nullptr});
  if (!watch) return watch.error().wrap("watching a timerfd");
  timer->watch_ = std::move(watch.value());
  return timer;
}

ShortTimer::ShortTimer(int timer_fd) : timer_fd_(timer_fd) {}

ShortTimer::~ShortTimer() {
  watch_.reset();
  ::close(timer_fd_);
}

void ShortTimer::start(std::chrono::microseconds delay, std::function<void()> fn) {
  arm(delay, false, std::move(fn));
}

void ShortTimer::start_repeating(std::chrono::microseconds interval, std::function<void()> fn) {
  arm(interval, true, std::move(fn));
}

void ShortTimer::arm(std::chrono::microseconds delay, bool repeat, std::function<void()> fn) {
  const auto usec = delay.count() < 1 ? std::int64_t{1} : static_cast<std::int64_t>(delay.count());
  timespec period{};
  period.tv_sec = static_cast<time_t>(usec / 1000000);
  period.tv_nsec = static_cast<long>((usec % 1000000) * 1000);
  itimerspec spec{};
  spec.it_value = period;
  if (repeat) spec.it_interval = period;
  fn_ = std::move(fn);
  repeating_ = repeat;
  pending_ = ::timerfd_settime(timer_fd_, 0, &spec, nullptr) == 0;
}

void ShortTimer::cancel() {
  if (!pending_) return;
  itimerspec spec{};
  ::timerfd_settime(timer_fd_, 0, &spec, nullptr);
  pending_ = false;
}

void ShortTimer::on_expired() {
  std::uint64_t expirations = 0;
  // Consumes the expiry; EAGAIN means it was cancelled or re-armed after poll saw it.
  if (::read(timer_fd_, &expirations, sizeof expirations) != sizeof expirations) return;
  if (!pending_) return;
  pending_ = repeating_;
  auto fn = fn_;  // copied: the callback may re-arm or destroy this timer
  if (fn) fn();
}

}  // namespace tether::daemon
