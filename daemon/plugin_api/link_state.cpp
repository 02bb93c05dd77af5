#include "daemon/plugin_api/link_state.hpp"

#include <utility>
#include <vector>

namespace tether::daemon {

// Shared between the registry and its subscriptions, so that a subscription that
// outlives the registry finds it gone instead of dangling.
struct LinkObservers::Subscription::Shared {
  std::map<std::uint64_t, std::shared_ptr<Observer>> observers;
  std::uint64_t next_id = 1;
  LinkState state = LinkState::kOffline;
  std::string sentence = "not started";
};

std::string_view link_state_name(LinkState state) {
  switch (state) {
    case LinkState::kOffline:
      return "offline";
    case LinkState::kConnecting:
      return "connecting";
    case LinkState::kOnline:
      return "online";
    case LinkState::kStopped:
      return "stopped";
  }
  return "offline";
}

LinkObservers::Subscription::Subscription(Subscription&& other) noexcept
    : shared_(std::move(other.shared_)), id_(std::exchange(other.id_, 0)) {}

LinkObservers::Subscription& LinkObservers::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    reset();
    shared_ = std::move(other.shared_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void LinkObservers::Subscription::reset() {
  if (auto shared = shared_.lock()) shared->observers.erase(id_);
  shared_.reset();
  id_ = 0;
}

bool LinkObservers::Subscription::active() const {
  auto shared = shared_.lock();
  return shared && shared->observers.count(id_) != 0;
}

LinkObservers::LinkObservers() : shared_(std::make_shared<Subscription::Shared>()) {}
LinkObservers::~LinkObservers() = default;

LinkObservers::Subscription LinkObservers::subscribe(Observer observer) {
  const std::uint64_t id = shared_->next_id++;
  shared_->observers.emplace(id, std::make_shared<Observer>(std::move(observer)));
  return Subscription(shared_, id);
}

void LinkObservers::notify(LinkState state, std::string_view sentence) {
  shared_->state = state;
  shared_->sentence = std::string(sentence);
  // Walks a snapshot of the ids: observers may subscribe or unsubscribe (any of
  // them) from inside their call. Each is looked up again before it is called.
  std::vector<std::uint64_t> ids;
  ids.reserve(shared_->observers.size());
  for (const auto& [id, observer] : shared_->observers) ids.push_back(id);
  const std::string text = shared_->sentence;
  for (std::uint64_t id : ids) {
    auto it = shared_->observers.find(id);
    if (it == shared_->observers.end()) continue;
    std::shared_ptr<Observer> keep = it->second;  // alive even if it unsubscribes itself
    (*keep)(state, text);
  }
}

LinkState LinkObservers::state() const {
  return shared_->state;
}
const std::string& LinkObservers::sentence() const {
  return shared_->sentence;
}
std::size_t LinkObservers::size() const {
  return shared_->observers.size();
}

}  // namespace tether::daemon
