// io.tether.Update1 on the daemon's bus (spec/dbus.md): the State and Current
// properties follow the plugin (PropertiesChanged), ConsentRequested is emitted when
// an update starts waiting for consent, and Respond hands a local app's answer to the
// plugin, replying once the answer is stored.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "protocol/result.hpp"

namespace tether::daemon::dbus {
class BusService;
}

namespace tether::plugins::update {

// What the bus shows of the current (or last) update.
struct UpdateView {
  std::string state = "idle";
  std::string id;
  std::string version;
  std::uint64_t percent = 0;
  std::string message;
};

class UpdateBus {
 public:
  using Respond =
      std::function<void(const std::string& id, bool accept, std::function<void(Status)> done)>;

  // Registers the adaptor on the shared object. `view` is read for the properties;
  // `respond` receives Respond calls. Both must outlive this object.
  static Result<std::unique_ptr<UpdateBus>> create(daemon::dbus::BusService& bus,
                                                   std::function<UpdateView()> view,
                                                   Respond respond);
  ~UpdateBus();
  UpdateBus(const UpdateBus&) = delete;
  UpdateBus& operator=(const UpdateBus&) = delete;

  // Emits PropertiesChanged for State and Current.
  void changed();
  void consent_requested(const std::string& id, const std::string& version,
                         const std::string& message);

  class Adaptor;

 private:
  explicit UpdateBus(std::unique_ptr<Adaptor> adaptor);
  std::unique_ptr<Adaptor> adaptor_;
};

}  // namespace tether::plugins::update
