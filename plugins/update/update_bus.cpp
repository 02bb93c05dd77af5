#include "plugins/update/update_bus.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include "daemon/dbus/bus_service.hpp"
#include "dbus/generated/update1_adaptor.h"

namespace tether::plugins::update {

class UpdateBus::Adaptor final : public sdbus::AdaptorInterfaces<io::tether::Update1_adaptor> {
 public:
  Adaptor(daemon::dbus::BusService& bus, std::function<UpdateView()> view,
          UpdateBus::Respond respond)
      : AdaptorInterfaces(bus.connection(), daemon::dbus::BusService::kObjectPath),
        bus_(bus),
        view_(std::move(view)),
        respond_(std::move(respond)) {
    registerAdaptor();
  }
  ~Adaptor() { unregisterAdaptor(); }
  Adaptor(const Adaptor&) = delete;
  Adaptor& operator=(const Adaptor&) = delete;

  daemon::dbus::BusService& bus() { return bus_; }
  void emit_changed() {
    getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"State", "Current"});
  }

 private:
  std::string State() override { return view_().state; }

  std::map<std::string, sdbus::Variant> Current() override {
    const UpdateView v = view_();
    std::map<std::string, sdbus::Variant> out;
    if (v.id.empty()) return out;
    out["id"] = sdbus::Variant(v.id);
    out["version"] = sdbus::Variant(v.version);
    out["percent"] = sdbus::Variant(v.percent);
    out["message"] = sdbus::Variant(v.message);
    return out;
  }

  void Respond(sdbus::Result<>&& result, std::string id, bool accept) override {
    auto pending = std::make_shared<sdbus::Result<>>(std::move(result));
    respond_(id, accept, [this, pending](const Status& status) {
      if (status) {
        (void)bus_.reply(*pending);
      } else {
        (void)bus_.reply_error(*pending, status.error());
      }
    });
  }

  daemon::dbus::BusService& bus_;
  std::function<UpdateView()> view_;
  UpdateBus::Respond respond_;
};

Result<std::unique_ptr<UpdateBus>> UpdateBus::create(daemon::dbus::BusService& bus,
                                                     std::function<UpdateView()> view,
                                                     Respond respond) {
  try {
    return std::unique_ptr<UpdateBus>(
        new UpdateBus(std::make_unique<Adaptor>(bus, std::move(view), std::move(respond))));
  } catch (const sdbus::Error& e) {
    return Error(ErrorCode::kUnavailable, "registering io.tether.Update1: " + e.getMessage());
  }
}

UpdateBus::UpdateBus(std::unique_ptr<Adaptor> adaptor) : adaptor_(std::move(adaptor)) {}
UpdateBus::~UpdateBus() = default;

void UpdateBus::changed() {
  (void)adaptor_->bus().send([this] { adaptor_->emit_changed(); });
}

void UpdateBus::consent_requested(const std::string& id, const std::string& version,
                                  const std::string& message) {
  (void)adaptor_->bus().send([&] { adaptor_->emitConsentRequested(id, version, message); });
}

}  // namespace tether::plugins::update
