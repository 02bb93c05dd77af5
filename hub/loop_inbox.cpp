#include "hub/loop_inbox.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace tether::hub {

void LoopInbox::post(Task task) {
  std::lock_guard lock(mutex_);
  const bool was_empty = tasks_.empty();
  tasks_.push_back(std::move(task));
  // One wake per batch of tasks: the loop takes them all. Called under the lock so
  // that set_wake({}) at shutdown waits for a wake in progress.
  if (was_empty && wake_) wake_();
}

std::size_t LoopInbox::run_pending(std::size_t max_tasks) {
  const std::size_t urgent = run_from(urgent_, max_tasks);
  return urgent + run_from(tasks_, max_tasks - urgent);
}

bool LoopInbox::has_pending() {
  std::lock_guard lock(mutex_);
  return !tasks_.empty() || !urgent_.empty();
}

void LoopInbox::set_wake(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

void LoopInbox::post_urgent(Task task) {
  std::lock_guard lock(mutex_);
  const bool was_empty = urgent_.empty();
  urgent_.push_back(std::move(task));
  if (!was_empty) return;
  if (urgent_wake_) {
    urgent_wake_();
  } else if (wake_) {
    wake_();
  }
}

std::size_t LoopInbox::run_urgent(std::size_t max_tasks) {
  return run_from(urgent_, max_tasks);
}

bool LoopInbox::has_urgent() {
  std::lock_guard lock(mutex_);
  return !urgent_.empty();
}

void LoopInbox::set_urgent_wake(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  urgent_wake_ = std::move(wake);
}

std::size_t LoopInbox::run_from(std::deque<Task>& queue, std::size_t max_tasks) {
  std::vector<Task> batch;
  {
    std::lock_guard lock(mutex_);
    const std::size_t n = std::min(max_tasks, queue.size());
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
  }
  for (Task& task : batch) task();
  return batch.size();
}

}  // namespace tether::hub
