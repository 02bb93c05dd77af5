// An Outbound that plays the backend's side of the link for the update plugin: it
// records every progress message it is given, and can drop and restore the link.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/plugin_api/outbound.hpp"
#include "protocol/update.hpp"

namespace tether::plugins::update::test {

class RecordingOutbound final : public daemon::Outbound {
 public:
  Status send(const protocol::ProtoMsg& msg, daemon::Priority, std::string_view) override {
    if (!connected_) return Error(ErrorCode::kUnavailable, "not connected");
    auto progress = protocol::UpdateProgress::decode(msg.body);
    if (!progress) return progress.error();  // the plugin sent something malformed
    progress_.push_back(*progress);
    if (on_progress) on_progress(*progress);
    return Status::Ok();
  }
  std::size_t queued_bytes(std::string_view) const override { return 0; }
  std::size_t total_queued_bytes() const override { return 0; }
  void when_drained(std::string_view, std::size_t, std::size_t, std::function<void()>) override {}
  void cancel_drained(std::string_view) override {}
  bool connected() const override { return connected_; }

  void set_connected(bool on) { connected_ = on; }
  // Called (on the loop, inside send) after each progress is recorded: a test acts
  // at an exact state with it, e.g. by posting a message to the loop.
  std::function<void(const protocol::UpdateProgress&)> on_progress;
  const std::vector<protocol::UpdateProgress>& progress() const { return progress_; }
  void clear() { progress_.clear(); }
  // The states reported for `id`, in order, without repeats of the same state.
  std::vector<std::string> states(const std::string& id) const {
    std::vector<std::string> out;
    for (const auto& p : progress_) {
      if (p.id == id && (out.empty() || out.back() != p.state)) out.push_back(p.state);
    }
    return out;
  }
  const protocol::UpdateProgress* last(const std::string& id) const {
    for (auto it = progress_.rbegin(); it != progress_.rend(); ++it) {
      if (it->id == id) return &*it;
    }
    return nullptr;
  }

 private:
  bool connected_ = true;
  std::vector<protocol::UpdateProgress> progress_;
};

}  // namespace tether::plugins::update::test
