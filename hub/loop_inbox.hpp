// Work handed to the loop thread from another thread (the stores' writer threads
// report commits through it). post() may be called from any thread; the tasks run
// on the loop thread, in order, when it calls run_pending(). The loop glue sets a
// wake function that makes its loop call run_pending() soon (lws_cancel_service).
//
// Work an operator waits for (a session's messages from another hub instance, over
// the bus) is posted urgent: it has its own queue and wake, so the loop can run it
// between two sockets' services instead of after a pass over thousands of them.
// Urgent tasks run in order among themselves, ahead of the ordinary ones posted
// before them; without an urgent wake they wake the loop as ordinary ones do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace tether::hub {

class LoopInbox {
 public:
  using Task = std::function<void()>;

  // Any thread.
  void post(Task task);
  // Loop thread: runs the tasks posted so far, in order, at most `max_tasks` of
  // them, so that a burst (a commit of ten thousand records completes at once)
  // does not hold the loop away from its sockets. Returns how many ran; when
  // has_pending() says some are left, the caller wakes its loop again.
  // Urgent tasks first, then ordinary ones: both count against `max_tasks`.
  std::size_t run_pending(std::size_t max_tasks = SIZE_MAX);
  bool has_pending();
  // Set (or cleared, with an empty function) by the loop's owner; called after
  // each post, from the posting thread.
  void set_wake(std::function<void()> wake);

  // Any thread.
  void post_urgent(Task task);
  // Loop thread: runs at most `max_tasks` urgent tasks, in order; returns how many.
  std::size_t run_urgent(std::size_t max_tasks);
  bool has_urgent();
  // Called after each urgent post that found the urgent queue empty, from the
  // posting thread; empty: urgent posts use the ordinary wake.
  void set_urgent_wake(std::function<void()> wake);

 private:
  // Moves at most `max_tasks` tasks out of `queue` (under the lock) and runs them.
  std::size_t run_from(std::deque<Task>& queue, std::size_t max_tasks);

  std::mutex mutex_;
  std::deque<Task> tasks_;
  std::deque<Task> urgent_;
  std::function<void()> wake_;
  std::function<void()> urgent_wake_;
};

}  // namespace tether::hub
