// Work handed to the loop thread from another thread (the stores' writer threads
// report commits through it). post() may be called from any thread; the tasks run
// on the loop thread, in order, when it calls run_pending(). The loop glue sets a
// wake function that makes its loop call run_pending() soon (lws_cancel_service).
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
  std::size_t run_pending(std::size_t max_tasks = SIZE_MAX);
  bool has_pending();
  // Set (or cleared, with an empty function) by the loop's owner; called after
  // each post, from the posting thread.
  void set_wake(std::function<void()> wake);

 private:
  std::mutex mutex_;
  std::deque<Task> tasks_;
  std::function<void()> wake_;
};

}  // namespace tether::hub
