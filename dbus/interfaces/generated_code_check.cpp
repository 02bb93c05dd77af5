// Compiles every adaptor and proxy generated from the interface XML, so that each
// of them is known to build even before a plugin implements it.
#include "dbus/generated/authentication1_adaptor.h"
#include "dbus/generated/authentication1_proxy.h"
#include "dbus/generated/commands1_adaptor.h"
#include "dbus/generated/commands1_proxy.h"
#include "dbus/generated/config1_adaptor.h"
#include "dbus/generated/config1_proxy.h"
#include "dbus/generated/gateway1_adaptor.h"
#include "dbus/generated/gateway1_proxy.h"
#include "dbus/generated/telemetry1_adaptor.h"
#include "dbus/generated/telemetry1_proxy.h"
#include "dbus/generated/update1_adaptor.h"
#include "dbus/generated/update1_proxy.h"
#include "dbus/interfaces/names.hpp"

namespace tether::dbus {

std::span<const char* const> generated_interfaces() {
  static constexpr const char* kNames[] = {
      io::tether::Gateway1_adaptor::INTERFACE_NAME,
      io::tether::Telemetry1_adaptor::INTERFACE_NAME,
      io::tether::Config1_adaptor::INTERFACE_NAME,
      io::tether::Update1_adaptor::INTERFACE_NAME,
      io::tether::Commands1_adaptor::INTERFACE_NAME,
      io::mender::Authentication1_proxy::INTERFACE_NAME,
  };
  return kNames;
}

}  // namespace tether::dbus
