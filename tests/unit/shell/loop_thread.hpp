// The real EventLoop on a thread of its own for a test's lifetime. Everything that
// touches loop-owned objects (the plugin, the fake outbound) runs on that thread via
// call(); the test thread only waits. The loop thread lives as long as the test,
// which PR_SET_PDEATHSIG requires of the thread that spawns shells.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "daemon/loop/event_loop.hpp"

namespace tether::plugins::shell::test {

class LoopThread {
 public:
  LoopThread() {
    auto loop = daemon::EventLoop::create();
    if (!loop) {
      ADD_FAILURE() << loop.error().message();
      return;
    }
    loop_ = std::move(loop.value());
    thread_ = std::thread([this] { loop_->run(); });
  }
  ~LoopThread() {
    if (loop_) {
      loop_->stop();
      thread_.join();
    }
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  daemon::EventLoop& loop() { return *loop_; }

  // Runs `fn` on the loop thread and returns its result; fails the test (and
  // returns a default value) if the loop does not get to it within 10 s.
  template <typename Fn>
  auto call(Fn fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    std::future<R> result = task->get_future();
    loop_->post([task] { (*task)(); });
    if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "the event loop did not run a posted call within 10 s";
      std::abort();  // the task still references the caller's frame
    }
    return result.get();
  }

  // Polls `predicate` on the loop thread until it holds or `timeout` passes.
  bool wait_until(const std::function<bool()>& predicate,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (call(predicate)) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return call(predicate);
  }

 private:
  std::unique_ptr<daemon::EventLoop> loop_;
  std::thread thread_;
};

}  // namespace tether::plugins::shell::test
