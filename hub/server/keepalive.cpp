#include "hub/server/keepalive.hpp"

#include <iterator>

namespace tether::hub {

Keepalive::Handle Keepalive::add(Peer& peer, Clock::time_point now) {
  order_.push_back(Entry{&peer, now});
  return std::prev(order_.end());
}

void Keepalive::remove(Handle handle) {
  order_.erase(handle);
}

void Keepalive::heard(Handle handle, Clock::time_point now) {
  handle->heard = now;
  handle->pinged = false;
  if (std::next(handle) != order_.end()) order_.splice(order_.end(), order_, handle);
}

void Keepalive::sweep(Clock::time_point now) {
  to_hang_up_.clear();
  for (Entry& e : order_) {
    if (now - e.heard < ping_after_) break;  // everyone behind was heard later still
    if (!e.pinged) {
      e.pinged = true;
      e.pinged_at = now;
      e.peer->send_ping();
    } else if (now - e.pinged_at >= hang_up_after_ - ping_after_ && !e.hung_up) {
      e.hung_up = true;
      to_hang_up_.push_back(e.peer);
    }
  }
  for (Peer* peer : to_hang_up_) peer->hang_up();
}

}  // namespace tether::hub
