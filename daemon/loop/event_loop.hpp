// The one event loop of a tether process, and the small facade that handlers and
// tests use instead of libwebsockets: post, timers, fd watches and a worker pool.
//
// Why libwebsockets owns the loop: Debian 12's lws is built without external-poll
// support, so it cannot be driven from our own poll(); instead every other source
// (PTY masters, the sd-bus fd, signalfd, child pidfds, timerfds) is registered in one
// epoll set whose fd lws polls, and timers are lws "sul" timers.
//
// Threading: everything here must be used on the loop thread, except post() and
// stop(), which any thread may call.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "protocol/result.hpp"

struct lws_context;
struct lws_vhost;

namespace tether::daemon {

class EventLoop {
 public:
  struct Options {
    // Worker threads for blocking work (DNS, hashing, process spawning).
    std::size_t workers = 2;
  };

  static Result<std::unique_ptr<EventLoop>> create(const Options& options);
  static Result<std::unique_ptr<EventLoop>> create() { return create(Options{}); }
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs callbacks until stop() is called. Returns after the loop has wound down.
  void run();
  // Makes run() return once the current callback finishes. Thread-safe.
  void stop();

  // Runs `fn` on the loop thread soon, in FIFO order. Thread-safe.
  void post(std::function<void()> fn);

  // Runs `work` on a worker thread, then `done` on the loop thread. `work` must not
  // touch loop-owned state. Pending work still runs at shutdown; its `done` does not.
  void run_blocking(std::function<void()> work, std::function<void()> done);

  // For the transport only (daemon/transport): the lws context and the vhost that
  // client connections and adopted descriptors belong to.
  lws_context* lws() const;
  lws_vhost* lws_vhost_handle() const;

  class Impl;

 private:
  explicit EventLoop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class Timer;
  friend class FdWatch;
};

// A one-shot timer on the loop. Destroying it cancels it, so a handler that owns
// its timers can never be called back after it is gone.
class Timer {
 public:
  explicit Timer(EventLoop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer; a pending expiry is replaced.
  void start(std::chrono::milliseconds delay, std::function<void()> fn);
  void cancel();
  bool pending() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// Watches a file descriptor the caller keeps owning (the watch registers its own dup,
// so that closing the caller's fd first cannot leave a stale registration behind).
// Destroying the watch stops it, also from inside one of its own callbacks.
//
// Why an epoll set instead of adopting each fd into lws: lws polls every fd it holds
// on every turn of the loop, and poll() on a PTY master whose buffer is empty waits
// for the kernel's tty flush worker. Under bulk shell output that wait was a fifth of
// the daemon's CPU, paid even while the shell plugin was deliberately not reading
// (docs/performance.md). In the epoll set a watch with no interest costs nothing.
// Readiness is level-triggered, as with poll().
class FdWatch {
 public:
  struct Callbacks {
    std::function<void()> on_readable;  // read until EAGAIN or a bounded amount
    std::function<void()> on_writable;  // only while want_writable(true)
    std::function<void()> on_hangup;    // POLLHUP/POLLERR; the watch is stopped first
  };

  static Result<std::unique_ptr<FdWatch>> create(EventLoop& loop, int fd, Callbacks callbacks);
  ~FdWatch();
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  // Flow control: stop or resume readable callbacks (e.g. while the peer is slow).
  void want_readable(bool on);
  // Ask for one on_writable callback when the fd can take more bytes.
  void want_writable(bool on);

  struct State;

 private:
  explicit FdWatch(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace tether::daemon
