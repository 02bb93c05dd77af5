// One blocking task (a download, an installer run) on a thread of its own, so that it
// neither blocks the loop nor holds one of the loop's two workers for minutes.
// Destroying the job cancels its token and joins the thread.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "plugins/update/cancel_token.hpp"

namespace tether::plugins::update {

class BackgroundJob {
 public:
  explicit BackgroundJob(std::function<void(CancelToken&)> work)
      : token_(std::make_unique<CancelToken>()),
        thread_([work = std::move(work), token = token_.get()] { work(*token); }) {}
  ~BackgroundJob() {
    token_->cancel();
    thread_.join();
  }
  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  void cancel() { token_->cancel(); }

 private:
  std::unique_ptr<CancelToken> token_;
  std::thread thread_;
};

}  // namespace tether::plugins::update
