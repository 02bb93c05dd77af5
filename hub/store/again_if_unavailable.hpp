// A PostgreSQL connection the server dropped (a restart, a failover) fails its next
// call with kUnavailable and reconnects on the call after (hub/store/sql). A store
// whose work can run twice without harm (a read; a batch of upserts, guarded
// updates and deletes, rolled back when it failed) runs it once more in that case,
// so that a database restart costs no operator an error and no device a retry.
// Still unavailable the second time (the server is down) is the caller's error.
#pragma once

#include "protocol/result.hpp"

namespace tether::hub {

// `attempt` returns a Status or a Result<T>.
template <typename Attempt>
auto again_if_unavailable(const Attempt& attempt) {
  auto first = attempt();
  if (first.ok() || first.error().code() != ErrorCode::kUnavailable) return first;
  return attempt();
}

}  // namespace tether::hub
