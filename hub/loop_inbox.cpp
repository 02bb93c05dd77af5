#include "hub/loop_inbox.hpp"

#include <utility>

namespace tether::hub {

void LoopInbox::post(Task task) {
  std::lock_guard lock(mutex_);
  const bool was_empty = tasks_.empty();
  tasks_.push_back(std::move(task));
  // One wake per batch of tasks: the loop takes them all. Called under the lock so
  // that set_wake({}) at shutdown waits for a wake in progress.
  if (was_empty && wake_) wake_();
}

std::size_t LoopInbox::run_pending() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(tasks_);
  }
  for (Task& task : tasks) task();
  return tasks.size();
}

void LoopInbox::set_wake(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

}  // namespace tether::hub
