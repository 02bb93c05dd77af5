// The protocol services tether-hub runs, and the proto numbers each takes.
#pragma once

#include "hub/services/protocol_service.hpp"
#include "hub/services/service_registry.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

// Registers every built-in service with `registry`. A new service is one line here.
Status register_services(ServiceRegistry& registry, const ServiceContext& context);

}  // namespace tether::hub
