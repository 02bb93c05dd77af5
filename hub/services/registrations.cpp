#include "hub/services/registrations.hpp"

#include "hub/services/command_service.hpp"
#include "hub/services/config_service.hpp"
#include "hub/services/monitoring_intake.hpp"
#include "hub/services/passthrough.hpp"
#include "hub/services/routed_sessions.hpp"
#include "hub/services/shell_relay.hpp"
#include "hub/services/update_service.hpp"

namespace tether::hub {

namespace {

template <typename Service>
Status add(ServiceRegistry& registry, std::initializer_list<std::uint16_t> protos,
           const ServiceContext& context) {
  auto added = registry.emplace<Service>(protos, context);
  if (!added.ok()) return added.error().wrap("registering the hub's protocol services");
  return Status::Ok();
}

}  // namespace

Status register_services(ServiceRegistry& registry, const ServiceContext& context) {
  namespace proto = protocol::proto;
  for (const Status& added : {
           add<ShellRelay>(registry, {proto::kShell}, context),
           add<RoutedSessions>(
               registry, {proto::kControl, proto::kFileTransfer, proto::kPortForward}, context),
           add<MonitoringIntake>(registry, {proto::kMonitoring}, context),
           add<ConfigService>(registry, {proto::kConfig}, context),
           add<UpdateService>(registry, {proto::kUpdate}, context),
           add<CommandService>(registry, {proto::kCommand}, context),
           add<Passthrough>(registry, {proto::kClient}, context),
       }) {
    if (!added.ok()) return added;
  }
  return Status::Ok();
}

}  // namespace tether::hub
