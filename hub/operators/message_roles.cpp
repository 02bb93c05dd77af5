#include "hub/operators/message_roles.hpp"

#include <array>

#include "protocol/message.hpp"

namespace tether::hub {

namespace {

struct Row {
  std::uint16_t proto;
  std::string_view typ;  // empty: every typ of the proto
  Role role;
};

namespace proto = protocol::proto;

// First match wins; no match is operator.
constexpr std::array kTable{
    Row{proto::kControl, "ping", Role::kViewer},    Row{proto::kControl, "pong", Role::kViewer},
    Row{proto::kControl, "", Role::kOperator},      Row{proto::kShell, "", Role::kOperator},
    Row{proto::kFileTransfer, "", Role::kOperator}, Row{proto::kPortForward, "", Role::kOperator},
    Row{proto::kMonitoring, "", Role::kViewer},
};

}  // namespace

Role role_for_message(std::uint16_t proto_number, std::string_view typ) {
  for (const Row& row : kTable) {
    if (row.proto == proto_number && (row.typ.empty() || row.typ == typ)) return row.role;
  }
  return Role::kOperator;
}

}  // namespace tether::hub
