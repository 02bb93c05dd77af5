// Who is asking the hub to do something: an operator's name and role. Every JSON API
// route and every operator WebSocket message needs a role; a caller whose role is
// lower is refused with 403 and a sentence naming the role it lacks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hub/http_types.hpp"

namespace tether::hub {

// Ordered: each role may do everything the roles below it may.
//  - viewer: reads (devices, telemetry, alerts, config and update state)
//  - operator: also acts on a device (shells, files, port forward, commands, config push,
//    an update offer to one device)
//  - admin: also fleet-wide actions, devices, tokens and accounts
enum class Role : std::uint8_t { kViewer = 0, kOperator = 1, kAdmin = 2 };

std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

struct Caller {
  std::string user;
  Role role = Role::kViewer;

  bool may(Role needed) const { return role >= needed; }
};

// 403 with {"error":"forbidden: the <role> role is needed"}.
HttpResponse forbidden(Role needed);

}  // namespace tether::hub
