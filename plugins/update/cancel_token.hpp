// A cancellation flag that a worker thread can also sleep on: the download's backoff
// waits on it, so cancelling (or destroying the plugin) never waits out a backoff.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace tether::plugins::update {

class CancelToken {
 public:
  void cancel() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    wake_.notify_all();
  }
  bool cancelled() const { return cancelled_.load(); }
  // Sleeps for `delay` or until cancelled; true when cancelled.
  bool wait_for(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    return wake_.wait_for(lock, delay, [this] { return cancelled_.load(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace tether::plugins::update
