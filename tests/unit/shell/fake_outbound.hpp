// An Outbound that records what the plugin sends and plays a backend of chosen
// speed: it delivers at once (a fast backend), holds everything (a stalled one),
// or drains a fixed number of bytes per tick (a link of known bandwidth). Loop
// thread only, like the real one.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "daemon/loop/event_loop.hpp"
#include "daemon/plugin_api/outbound.hpp"
#include "protocol/message.hpp"

namespace tether::plugins::shell::test {

class FakeOutbound final : public daemon::Outbound {
 public:
  struct Sent {
    protocol::ProtoMsg msg;
    daemon::Priority priority;
    std::string flow;
    std::size_t bytes;
    std::chrono::steady_clock::time_point delivered_at;
  };

  explicit FakeOutbound(daemon::EventLoop& loop) : loop_(loop), tick_(loop) {}

  Status send(const protocol::ProtoMsg& msg, daemon::Priority priority,
              std::string_view flow) override {
    if (!connected_) {
      return Error("not connected");
    }
    Sent sent{msg, priority, std::string(flow), protocol::encode(msg).size(), {}};
    per_flow_[sent.flow] += sent.bytes;
    total_ += sent.bytes;
    peak_total_ = std::max(peak_total_, total_);
    if (priority == daemon::Priority::kControl) {
      control_.push_back(std::move(sent));
    } else {
      bulk_.push_back(std::move(sent));
    }
    if (mode_ == Mode::kInstant) {
      deliver(SIZE_MAX);
    }
    return Status::Ok();
  }

  std::size_t queued_bytes(std::string_view flow) const override {
    auto it = per_flow_.find(std::string(flow));
    return it == per_flow_.end() ? 0 : it->second;
  }
  std::size_t total_queued_bytes() const override { return total_; }

  void when_drained(std::string_view flow, std::size_t flow_low, std::size_t total_low,
                    std::function<void()> fn) override {
    ++drain_waits_;
    waiters_[std::string(flow)] = Waiter{flow_low, total_low, std::move(fn)};
    wake_waiters();
  }
  void cancel_drained(std::string_view flow) override { waiters_.erase(std::string(flow)); }
  bool connected() const override { return connected_; }

  // ---- test controls ----
  void deliver_instantly() {
    mode_ = Mode::kInstant;
    tick_.cancel();
    deliver(SIZE_MAX);
  }
  void stall() {
    mode_ = Mode::kStalled;
    tick_.cancel();
  }
  // A link of `bytes_per_tick` every `tick`.
  void rate_limit(std::size_t bytes_per_tick, std::chrono::milliseconds tick) {
    mode_ = Mode::kRate;
    rate_bytes_ = bytes_per_tick;
    rate_tick_ = tick;
    schedule_tick();
  }
  void disconnect() {
    connected_ = false;
    control_.clear();
    bulk_.clear();
    per_flow_.clear();
    total_ = 0;
    waiters_.clear();
  }
  // Hands up to `budget` queued bytes to the "backend", control first.
  void deliver(std::size_t budget) {
    std::size_t used = 0;
    for (auto* queue : {&control_, &bulk_}) {
      while (!queue->empty() && used < budget) {
        Sent sent = std::move(queue->front());
        queue->pop_front();
        used += sent.bytes;
        per_flow_[sent.flow] -= sent.bytes;
        total_ -= sent.bytes;
        sent.delivered_at = std::chrono::steady_clock::now();
        if (sent.msg.hdr.typ == "shell") {
          Output& out = output_[sent.msg.hdr.sid];
          out.bytes += sent.msg.body.size();
          out.messages += 1;
          out.large_messages += sent.msg.body.size() >= 4096 ? 1U : 0U;
          out.text.append(sent.msg.body.begin(), sent.msg.body.end());
          if (out.text.size() > output_tail_limit_) {
            out.text.erase(0, out.text.size() - output_tail_limit_);
          }
          if (!keep_output_messages_) {
            continue;
          }
        }
        delivered_.push_back(std::move(sent));
      }
    }
    wake_waiters();
  }

  // What the "backend" received of each session's output.
  struct Output {
    std::string text;  // all of it, or its tail when limited
    std::size_t bytes = 0;
    std::size_t messages = 0;
    std::size_t large_messages = 0;  // of 4 KiB or more
  };
  const Output& output(const std::string& sid) { return output_[sid]; }
  // For floods: keep only counts and the last `tail` bytes of output text, and no
  // `shell` messages in delivered().
  void keep_only_output_tail(std::size_t tail) {
    keep_output_messages_ = false;
    output_tail_limit_ = tail;
  }

  const std::vector<Sent>& delivered() const { return delivered_; }
  std::size_t peak_total_queued() const { return peak_total_; }
  std::size_t drain_waits() const { return drain_waits_; }

 private:
  enum class Mode { kInstant, kStalled, kRate };
  struct Waiter {
    std::size_t flow_low;
    std::size_t total_low;
    std::function<void()> fn;
  };

  void wake_waiters() {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (queued_bytes(it->first) <= it->second.flow_low && total_ <= it->second.total_low) {
        loop_.post(std::move(it->second.fn));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  void schedule_tick() {
    tick_.start(rate_tick_, [this] {
      deliver(rate_bytes_);
      if (mode_ == Mode::kRate) {
        schedule_tick();
      }
    });
  }

  daemon::EventLoop& loop_;
  daemon::Timer tick_;
  Mode mode_ = Mode::kInstant;
  std::size_t rate_bytes_ = 0;
  std::chrono::milliseconds rate_tick_{1};
  bool connected_ = true;
  std::deque<Sent> control_;
  std::deque<Sent> bulk_;
  std::map<std::string, std::size_t> per_flow_;
  std::size_t total_ = 0;
  std::size_t peak_total_ = 0;
  std::size_t drain_waits_ = 0;
  std::map<std::string, Waiter> waiters_;
  std::vector<Sent> delivered_;
  std::map<std::string, Output> output_;
  bool keep_output_messages_ = true;
  std::size_t output_tail_limit_ = SIZE_MAX;
};

}  // namespace tether::plugins::shell::test
