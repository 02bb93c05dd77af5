#include "daemon/transport/outbound_queue.hpp"

namespace tether::daemon::transport {

OutboundQueue::OutboundQueue(Limits limits, std::function<void(std::function<void()>)> schedule,
                             std::function<void()> wake_writer)
    : limits_(limits), schedule_(std::move(schedule)), wake_writer_(std::move(wake_writer)) {}

Status OutboundQueue::send(const protocol::ProtoMsg& msg, Priority priority,
                           std::string_view flow) {
  if (!connected_) return Error(ErrorCode::kUnavailable, "not connected to the server");
  return enqueue_encoded(protocol::encode(msg), priority, flow);
}

Status OutboundQueue::enqueue_encoded(protocol::Bytes bytes, Priority priority,
                                      std::string_view flow) {
  if (!connected_) return Error(ErrorCode::kUnavailable, "not connected to the server");
  const std::size_t limit = priority == Priority::kControl
                                ? limits_.hard_cap + limits_.control_reserve
                                : limits_.hard_cap;
  if (total_bytes_ + bytes.size() > limit)
    return Error(ErrorCode::kBusy,
                 "outbound queue full (" + std::to_string(total_bytes_) + " bytes queued)");
  Entry entry{std::move(bytes), std::string(flow)};
  account(entry.flow, entry.bytes.size(), true);
  (priority == Priority::kControl ? control_ : bulk_).push_back(std::move(entry));
  if (wake_writer_) wake_writer_();
  return {};
}

std::optional<protocol::Bytes> OutboundQueue::pop() {
  auto& queue = !control_.empty() ? control_ : bulk_;
  if (queue.empty()) return std::nullopt;
  Entry entry = std::move(queue.front());
  queue.pop_front();
  account(entry.flow, entry.bytes.size(), false);
  fire_satisfied_waiters();
  return std::move(entry.bytes);
}

std::size_t OutboundQueue::queued_bytes(std::string_view flow) const {
  auto it = flow_bytes_.find(flow);
  return it == flow_bytes_.end() ? 0 : it->second;
}

void OutboundQueue::when_drained(std::string_view flow, std::size_t flow_low_water,
                                 std::size_t total_low_water, std::function<void()> fn) {
  Waiter waiter{flow_low_water, total_low_water, std::move(fn)};
  std::string key(flow);
  if (satisfied(key, waiter)) {
    waiters_.erase(key);
    if (schedule_ && waiter.fn) schedule_(std::move(waiter.fn));
    return;
  }
  waiters_[key] = std::move(waiter);
}

void OutboundQueue::cancel_drained(std::string_view flow) {
  if (auto it = waiters_.find(flow); it != waiters_.end()) waiters_.erase(it);
}

void OutboundQueue::set_connected(bool connected) {
  connected_ = connected;
  if (!connected) {
    control_.clear();
    bulk_.clear();
    total_bytes_ = 0;
    flow_bytes_.clear();
    waiters_.clear();
  }
}

void OutboundQueue::account(const std::string& flow, std::size_t bytes, bool add) {
  if (add) {
    total_bytes_ += bytes;
  } else {
    total_bytes_ -= bytes;
  }
  if (flow.empty()) return;
  auto& count = flow_bytes_[flow];
  if (add) {
    count += bytes;
  } else {
    count -= bytes;
    if (count == 0) flow_bytes_.erase(flow);
  }
}

bool OutboundQueue::satisfied(const std::string& flow, const Waiter& waiter) const {
  return queued_bytes(flow) <= waiter.flow_low_water && total_bytes_ <= waiter.total_low_water;
}

void OutboundQueue::fire_satisfied_waiters() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (satisfied(it->first, it->second)) {
      auto fn = std::move(it->second.fn);
      it = waiters_.erase(it);
      if (schedule_ && fn) schedule_(std::move(fn));
    } else {
      ++it;
    }
  }
}

}  // namespace tether::daemon::transport
