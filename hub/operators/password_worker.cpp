#include "hub/operators/password_worker.hpp"

#include <pthread.h>
#include <signal.h>

#include <utility>

#include "hub/auth.hpp"

namespace tether::hub {

PasswordWorker::PasswordWorker(LoopInbox& inbox, Mode mode, std::size_t max_queued)
    : inbox_(inbox), mode_(mode), max_queued_(max_queued) {
  if (mode_ == Mode::kThread) thread_ = std::thread([this] { worker_main(); });
}

PasswordWorker::~PasswordWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::size_t PasswordWorker::queued() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

bool PasswordWorker::submit(std::function<std::function<void()>()> job) {
  if (mode_ == Mode::kInline) {
    job()();
    return true;
  }
  {
    std::lock_guard lock(mutex_);
    if (jobs_.size() >= max_queued_ || stopping_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

bool PasswordWorker::verify(std::string password, std::string stored,
                            std::function<void(Result<bool>)> done) {
  return submit([password = std::move(password), stored = std::move(stored),
                 done = std::move(done)]() mutable -> std::function<void()> {
    Result<bool> ok = verify_password(password, stored);
    return [ok = std::move(ok), done = std::move(done)]() mutable { done(std::move(ok)); };
  });
}

bool PasswordWorker::hash(std::string password, std::function<void(Result<std::string>)> done) {
  return submit([password = std::move(password),
                 done = std::move(done)]() mutable -> std::function<void()> {
    Result<std::string> hashed = hash_password(password);
    return
        [hashed = std::move(hashed), done = std::move(done)]() mutable { done(std::move(hashed)); };
  });
}

void PasswordWorker::worker_main() {
  // Signals belong to the loop thread's signalfd.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    inbox_.post(job());
    lock.lock();
  }
}

}  // namespace tether::hub
