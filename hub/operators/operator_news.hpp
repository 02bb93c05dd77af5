// What this instance changed about operators that the other hub instances must
// hear of, since each keeps its own in-memory view of accounts, tokens and
// sessions. One instance alone has nobody to tell (no news object is set); a
// cluster publishes it on the bus (hub/cluster/bus_operators.hpp).
#pragma once

#include <string>

namespace tether::hub {

class OperatorNews {
 public:
  virtual ~OperatorNews() = default;
  // Accounts or API tokens changed in the operator store.
  virtual void accounts_changed() = 0;
  // A login session ended here (logout): the others drop it from their caches.
  virtual void session_ended(const std::string& session_sha256) = 0;
  // Every session of `user` ended here (account disabled, deleted, role changed):
  // the others drop them from their caches and close the user's sockets.
  virtual void sessions_of_user_ended(const std::string& user) = 0;
};

}  // namespace tether::hub
