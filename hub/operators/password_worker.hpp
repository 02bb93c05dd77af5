// Password hashing off the loop: PBKDF2 costs about 0.1 s on purpose, so one
// worker thread does it and the answer comes back to the loop through the
// LoopInbox. The queue is bounded; a full queue is refused at once (the caller
// answers 503), so a login flood costs the loop nothing but a queue check.
//
// In tests an inline worker (no thread) answers before the call returns.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "hub/loop_inbox.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

class PasswordWorker {
 public:
  enum class Mode { kThread, kInline };
  static constexpr std::size_t kDefaultMaxQueued = 64;

  PasswordWorker(LoopInbox& inbox, Mode mode, std::size_t max_queued = kDefaultMaxQueued);
  ~PasswordWorker();
  PasswordWorker(const PasswordWorker&) = delete;
  PasswordWorker& operator=(const PasswordWorker&) = delete;

  // `done` runs on the loop thread with verify_password's answer. false: the
  // queue is full and `done` will not run.
  bool verify(std::string password, std::string stored, std::function<void(Result<bool>)> done);
  // `done` runs on the loop thread with hash_password's answer.
  bool hash(std::string password, std::function<void(Result<std::string>)> done);

  std::size_t queued() const;

 private:
  bool submit(std::function<std::function<void()>()> job);
  void worker_main();

  LoopInbox& inbox_;
  const Mode mode_;
  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Each job runs on the worker and returns what the loop then runs.
  std::deque<std::function<std::function<void()>()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tether::hub
