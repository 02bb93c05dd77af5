#include "daemon/lifecycle/signal_watch.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tether::daemon {
namespace {

sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

Status SignalWatch::block_signals() {
  sigset_t set = watched_signals();
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0)
    return Error(ErrorCode::kIo, "blocking signals failed");
  ::signal(SIGPIPE, SIG_IGN);
  return {};
}

Result<std::unique_ptr<SignalWatch>> SignalWatch::create(EventLoop& loop,
                                                         std::function<void(int)> on_signal) {
  sigset_t set = watched_signals();
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return Error(ErrorCode::kIo, std::string("signalfd failed: ") + std::strerror(errno));
  std::unique_ptr<SignalWatch> watch(new SignalWatch(fd, std::move(on_signal)));
  SignalWatch* raw = watch.get();
  auto fd_watch = FdWatch::create(loop, fd, {[raw] { raw->drain(); }, nullptr, nullptr});
  if (!fd_watch) return fd_watch.error().wrap("watching the signalfd");
  watch->watch_ = std::move(fd_watch).value();
  return watch;
}

SignalWatch::SignalWatch(int fd, std::function<void(int)> on_signal)
    : fd_(fd), on_signal_(std::move(on_signal)) {}

SignalWatch::~SignalWatch() {
  watch_.reset();
  ::close(fd_);
}

void SignalWatch::drain() {
  signalfd_siginfo info;
  while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    if (on_signal_) on_signal_(static_cast<int>(info.ssi_signo));
  }
}

}  // namespace tether::daemon
