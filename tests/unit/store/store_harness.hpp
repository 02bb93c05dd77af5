// Drives a DurableStore from a test thread: the event loop runs on its own thread
// (the store's callbacks run there, as in the daemon), and each helper posts a call
// to the loop and waits for its `done` with a deadline, so a broken store fails the
// test instead of hanging it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "daemon/loop/event_loop.hpp"
#include "daemon/store/durable_store.hpp"

namespace tether::daemon::store::test {

inline constexpr std::chrono::seconds kDeadline{20};

inline Bytes bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}
inline std::string text_of(const Bytes& bytes) {
  return {bytes.begin(), bytes.end()};
}

class StoreHarness {
 public:
  StoreHarness() {
    auto loop = EventLoop::create();
    if (!loop.ok()) throw std::runtime_error(loop.error().message());
    loop_ = std::move(loop).value();
    thread_ = std::thread([this] { loop_->run(); });
  }

  ~StoreHarness() {
    on_loop([this] {
      store_.reset();
      return 0;
    });
    loop_->stop();
    thread_.join();
  }

  StoreHarness(const StoreHarness&) = delete;
  StoreHarness& operator=(const StoreHarness&) = delete;

  EventLoop& loop() { return *loop_; }

  // Opens the store on the loop thread (open blocks; acceptable in a test).
  Status open(DurableStore::Options options) {
    return on_loop([this, options]() -> Status {
      auto opened = DurableStore::open(*loop_, options);
      if (!opened.ok()) return opened.error();
      store_ = std::move(opened).value();
      return {};
    });
  }

  void close() {
    on_loop([this] {
      store_.reset();
      return 0;
    });
  }

  DurableStore& store() { return *store_; }
  // Destroys the store; only on the loop thread (inside on_loop or a callback).
  void destroy_store() { store_.reset(); }

  // Runs `fn` on the loop thread and returns its value.
  template <typename Fn>
  auto on_loop(Fn fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    loop_->post([promise, fn = std::move(fn)]() mutable { promise->set_value(fn()); });
    if (future.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "loop call did not return within the deadline";
      std::abort();
    }
    return future.get();
  }

  // Starts an operation on the loop with a `done` that fulfils the returned value.
  template <typename T, typename Start>
  T await(Start start) {
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    loop_->post([promise, start = std::move(start)]() mutable {
      start([promise](T result) { promise->set_value(std::move(result)); });
    });
    if (future.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "store callback did not arrive within the deadline";
      std::abort();
    }
    return future.get();
  }

  Result<std::uint64_t> append(const std::string& log, std::string_view text) {
    return await<Result<std::uint64_t>>([this, log, data = bytes_of(text)](auto done) {
      store_->append(log, data, std::move(done));
    });
  }
  Result<std::vector<LogRecord>> read(const std::string& log, std::uint64_t after,
                                      std::size_t max_records = 1000000,
                                      std::size_t max_bytes = 1U << 30U) {
    return await<Result<std::vector<LogRecord>>>([=, this](auto done) {
      store_->read(log, after, max_records, max_bytes, std::move(done));
    });
  }
  Status erase_through(const std::string& log, std::uint64_t seq) {
    return await<Status>(
        [=, this](auto done) { store_->erase_through(log, seq, std::move(done)); });
  }
  Result<DroppedRange> trim(const std::string& log, std::uint64_t max_bytes) {
    return await<Result<DroppedRange>>(
        [=, this](auto done) { store_->trim_to_bytes(log, max_bytes, std::move(done)); });
  }
  LogStats stats(const std::string& log) {
    return on_loop([this, log] { return store_->stats(log); });
  }
  Status put(const std::string& key, std::string_view text) {
    return await<Status>(
        [this, key, data = bytes_of(text)](auto done) { store_->put(key, data, std::move(done)); });
  }
  Status commit(DocumentChange change) {
    return await<Status>([this, change](auto done) { store_->commit(change, std::move(done)); });
  }
  Result<std::optional<Bytes>> get(const std::string& key) {
    return await<Result<std::optional<Bytes>>>(
        [this, key](auto done) { store_->get(key, std::move(done)); });
  }
  Result<std::vector<Document>> list(const std::string& prefix) {
    return await<Result<std::vector<Document>>>(
        [this, prefix](auto done) { store_->list(prefix, std::move(done)); });
  }

 private:
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
  std::unique_ptr<DurableStore> store_;
};

}  // namespace tether::daemon::store::test
