#include "hub/operators/caller.hpp"

#include "hub/json.hpp"

namespace tether::hub {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> parse_role(std::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "operator") return Role::kOperator;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

HttpResponse forbidden(Role needed) {
  const std::string message =
      "forbidden: the " + std::string(role_name(needed)) + " role is needed";
  return HttpResponse{403, "{\"error\":" + json::quote(message) + "}", {}};
}

}  // namespace tether::hub
