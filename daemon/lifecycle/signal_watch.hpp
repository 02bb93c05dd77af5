// SIGTERM and SIGINT as loop events: the signals are blocked and read from a
// signalfd adopted into the loop, so the handler runs as ordinary loop code (no
// async-signal-safety rules, no global flag).
#pragma once

#include <functional>
#include <memory>

#include "daemon/loop/event_loop.hpp"
#include "protocol/result.hpp"

namespace tether::daemon {

class SignalWatch {
 public:
  // Blocks SIGTERM, SIGINT (and SIGPIPE, which tetherd never wants) in the calling
  // thread. Call before any thread starts so that every thread inherits the mask.
  static Status block_signals();

  static Result<std::unique_ptr<SignalWatch>> create(EventLoop& loop,
                                                     std::function<void(int signal)> on_signal);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  SignalWatch(int fd, std::function<void(int)> on_signal);
  void drain();

  int fd_;
  std::function<void(int)> on_signal_;
  std::unique_ptr<FdWatch> watch_;
};

}  // namespace tether::daemon
