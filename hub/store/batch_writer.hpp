// The writer thread every hub store runs: the loop thread queues changes into a
// Batch (a deque of operations, or a map that coalesces them), and one thread takes
// everything queued since its last batch, writes it in one go (one transaction),
// then runs the batch's completions. The loop never waits for the disk, and one
// commit serves as many changes as arrived while the previous one was written.
//
// The owner gives the writing and the completions as hooks and calls stop() in its
// destructor before it closes what the hooks use. State the owner keeps next to the
// queue (read overlays, counters) can share the writer's lock through queue() and
// inspect(), so a read on the loop sees what is queued and what is being written.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "protocol/result.hpp"

namespace tether::hub {

template <typename Batch>
class BatchWriter {
 public:
  struct Hooks {
    // Writer thread, no lock held: writes the batch (one transaction).
    std::function<Status(Batch&)> write{};
    // Writer thread, no lock held, after write: completions, error reports.
    std::function<void(Batch&, const Status&)> complete{};
    // Writer thread, lock held, after complete: drops what the owner kept for reads
    // of the batch (overlays). Optional.
    std::function<void(Batch&)> settle{};
    // Periodic work (pruning): every tick_interval, with the lock held, on_tick may
    // add to the queued batch. Off when the interval is zero.
    std::chrono::steady_clock::duration tick_interval{};
    std::function<void(Batch&)> on_tick{};
    // A batch begins at least min_gap after the one before it began, unless flush()
    // is waiting or the writer stops. Under a steady stream each commit then carries
    // min_gap's worth of changes: a store whose rows land on pages all over its
    // indexes (thousands of devices writing at once) writes each page once per
    // commit instead of once per few changes. Zero: a batch begins as soon as
    // anything is queued.
    std::chrono::steady_clock::duration min_gap{};
  };

  // How many nice levels the writer runs below the thread that made it (the
  // loop). The loop serves operators' keystrokes; a commit waits out its min_gap
  // anyway, so a little later costs nothing. With 10 000 devices ingesting on two
  // cores, a writer at the loop's priority took the loop's core for half of every
  // second and put the echo p99 from ~46 to 50-79 ms (docs/performance.md).
  static constexpr int kNiceBelowCreator = 5;

  explicit BatchWriter(Hooks hooks) : hooks_(std::move(hooks)) {
    thread_ = std::thread([this] { run(); });
  }
  ~BatchWriter() { stop(); }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Writes what is still queued, then ends the thread. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  // Runs fn(queued batch) under the lock and wakes the writer. fn may return bool:
  // false means it queued nothing (a full queue dropped the change), so flush()
  // does not wait for it. Returns what fn returns.
  template <typename Fn>
  auto queue(Fn&& fn) {
    using R = std::invoke_result_t<Fn, Batch&>;
    std::unique_lock lock(mutex_);
    if constexpr (std::is_same_v<R, bool>) {
      const bool queued = fn(queued_);
      if (queued) ++queued_seq_;
      const bool wake = queued && !in_gap_;
      lock.unlock();
      if (wake) wake_.notify_one();
      return queued;
    } else {
      fn(queued_);
      ++queued_seq_;
      const bool wake = !in_gap_;
      lock.unlock();
      if (wake) wake_.notify_one();
    }
  }

  // Runs fn(queued, in_flight) under the lock: reads that must see changes not yet
  // committed. Returns what fn returns.
  template <typename Fn>
  auto inspect(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    return fn(static_cast<const Batch&>(queued_), static_cast<const Batch&>(in_flight_));
  }

  // Waits until everything queued so far is written; returns the first failure since
  // the last flush, if any.
  Status flush() {
    std::unique_lock lock(mutex_);
    const std::uint64_t target = queued_seq_;
    ++flush_waiters_;
    wake_.notify_one();  // a writer waiting out its min_gap begins now
    done_.wait(lock, [&] { return applied_seq_ >= target; });
    --flush_waiters_;
    if (first_error_) return *std::exchange(first_error_, std::nullopt);
    return Status::Ok();
  }

  // Batches written so far (tests look at the batching through this).
  std::uint64_t batches_written() const {
    std::lock_guard lock(mutex_);
    return batches_;
  }

 private:
  void run() {
    // Signals belong to the loop thread (its signalfd); this thread must never be
    // the one a SIGTERM is delivered to.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    // Nice is per thread on Linux and a new thread starts with its creator's.
    // Raising it needs no privilege; should it fail, the writer keeps the loop's
    // priority, which is only slower for operators, so the result is not checked.
    const int creators_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()),
                      std::min(19, creators_nice + kNiceBelowCreator));
    const bool ticking = hooks_.tick_interval.count() > 0 && hooks_.on_tick;
    auto next_tick = std::chrono::steady_clock::now() + hooks_.tick_interval;
    std::unique_lock lock(mutex_);
    for (;;) {
      auto ready = [this] { return stopping_ || !queued_.empty(); };
      if (ticking) {
        wake_.wait_until(lock, next_tick, ready);
        if (!stopping_ && std::chrono::steady_clock::now() >= next_tick) {
          hooks_.on_tick(queued_);
          ++queued_seq_;
          next_tick = std::chrono::steady_clock::now() + hooks_.tick_interval;
        }
      } else {
        wake_.wait(lock, ready);
      }
      if (hooks_.min_gap.count() > 0 && !queued_.empty()) {
        // Changes queued meanwhile do not wake the writer (in_gap_): only the end of
        // the gap, a flush() or stop() do.
        in_gap_ = true;
        wake_.wait_until(lock, last_began_ + hooks_.min_gap,
                         [this] { return stopping_ || flush_waiters_ > 0; });
        in_gap_ = false;
      }
      if (queued_.empty()) {
        if (stopping_) return;
        // A tick that queued nothing still counts as applied.
        applied_seq_ = queued_seq_;
        done_.notify_all();
        continue;
      }
      last_began_ = std::chrono::steady_clock::now();
      in_flight_ = std::exchange(queued_, Batch{});
      const std::uint64_t batch_seq = queued_seq_;
      lock.unlock();
      const Status written = hooks_.write(in_flight_);
      if (hooks_.complete) hooks_.complete(in_flight_, written);
      lock.lock();
      if (hooks_.settle) hooks_.settle(in_flight_);
      in_flight_ = Batch{};
      if (!written.ok() && !first_error_) first_error_ = written.error();
      applied_seq_ = batch_seq;
      ++batches_;
      done_.notify_all();
    }
  }

  Hooks hooks_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  Batch queued_{};
  Batch in_flight_{};
  std::uint64_t queued_seq_ = 0;   // changes queued so far
  std::uint64_t applied_seq_ = 0;  // changes written (or failed) so far
  std::uint64_t batches_ = 0;
  std::optional<Error> first_error_;
  bool stopping_ = false;
  int flush_waiters_ = 0;  // flush() calls waiting: they end a min_gap wait
  bool in_gap_ = false;    // the writer waits out min_gap; queue() need not wake it
  std::chrono::steady_clock::time_point last_began_{};
  std::thread thread_;  // last: starts after everything above is ready
};

}  // namespace tether::hub
