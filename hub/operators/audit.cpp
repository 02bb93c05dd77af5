#include "hub/operators/audit.hpp"

#include <utility>

namespace tether::hub {

void AuditTrail::record(AuditEvent event) const {
  if (sink != nullptr) sink->record(std::move(event));
}

}  // namespace tether::hub
