// Work handed to the loop thread from another thread (the stores' writer threads
// report commits through it). post() may be called from any thread; the tasks run
// on the loop thread, in order, when it calls run_pending(). The loop glue sets a
// wake function that makes its loop call run_pending() soon (lws_cancel_service).
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

namespace tether::hub {

class LoopInbox {
 public:
  using Task = std::function<void()>;

  // Any thread.
  void post(Task task);
  // Loop thread: runs every task posted so far. Returns how many ran.
  std::size_t run_pending();
  // Set (or cleared, with an empty function) by the loop's owner; called after
  // each post, from the posting thread.
  void set_wake(std::function<void()> wake);

 private:
  std::mutex mutex_;
  std::vector<Task> tasks_;
  std::function<void()> wake_;
};

}  // namespace tether::hub
