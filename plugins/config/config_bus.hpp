// io.tether.Config1 (spec/dbus.md): the stored config for local apps. It reads the
// plugin's document (never a copy of its own, so it cannot drift from what is
// stored) and announces each stored change: Changed, then PropertiesChanged for
// Version.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "daemon/dbus/bus_service.hpp"
#include "dbus/generated/config1_adaptor.h"
#include "plugins/config/config_document.hpp"
#include "protocol/result.hpp"

namespace tether::plugins::config {

class ConfigBus final : public sdbus::AdaptorInterfaces<io::tether::Config1_adaptor> {
 public:
  // Registers the interface on the daemon's object (no bus traffic). `document`
  // must outlive this.
  static Result<std::unique_ptr<ConfigBus>> create(daemon::dbus::BusService& bus,
                                                   const ConfigDocument& document);
  ConfigBus(daemon::dbus::BusService& bus, const ConfigDocument& document);
  ~ConfigBus();
  ConfigBus(const ConfigBus&) = delete;
  ConfigBus& operator=(const ConfigBus&) = delete;

  // After `change` is stored (and is the document now): emits Changed, and
  // PropertiesChanged when the version moved.
  Status announce(const ConfigChange& change, bool version_moved);

 private:
  sdbus::Variant Get(const std::string& key) override;
  std::map<std::string, sdbus::Variant> GetAll() override;
  std::uint64_t Version() override;

  daemon::dbus::BusService& bus_;
  const ConfigDocument& document_;
};

}  // namespace tether::plugins::config
