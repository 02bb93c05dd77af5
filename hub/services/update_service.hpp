// Software update (proto 0x0012, wire.md 5.3) from the hub's side: offers of an
// artifact from `[update] artifact-dir` to one device or to a fleet (a campaign),
// every `progress` the device reports (kept per update, bounded), the final state
// acknowledged with `ack` only after the hub's own commit, consent and cancel
// relayed from the UI, and the artifact downloads authorised per offer.
//
// Downloads: the offer's URL is `<public-url>/artifacts/NAME?grant=SECRET`, SECRET
// 128 random bits made for that offer (only its SHA-256 is stored). The hub serves
// NAME to a request carrying the grant of a live (not final) offer of NAME, so
// artifacts are never public and a device can fetch only what it was offered.
//
// JSON routes (roles: reads viewer; one device operator; fleet admin):
//   GET  /api/updates/artifacts                 artifacts with size, sha256, signed
//   GET  /api/devices/{id}/updates              that device's updates, newest first
//   POST /api/devices/{id}/updates              {"artifact", "version"?, "consent"?}
//   GET  /api/updates/{uid}                     one update with its progress history
//   POST /api/updates/{uid}/consent             {"accept": bool}
//   POST /api/updates/{uid}/cancel
//   GET  /api/update-campaigns                  campaigns with counts per state
//   POST /api/update-campaigns                  {"devices": [..] | "all": true, "artifact",
//                                                "version"?, "consent"?}
//   GET  /api/update-campaigns/{cid}            counts per state and each device's update
//
// Several instances (one store, a bus): the store's rows are the truth, as with
// commands (command_service.hpp). Any instance may change an update: the one an
// operator offers it on, the one holding the device's link (its `progress`
// arrives there: the update is read from the store by id, applied, saved, and
// the final state acked after that instance's commit), the one a download lands
// on (an unknown grant is looked up by its hash), the one a device connects to
// (its queued offers are read from the store and sent; the move from queued to
// offered applies only while the row is still queued, so one instance sends it).
// The memory holds a copy that is read back from the store before every action
// and answer, except while this instance's own writes to that update are still
// in flight (then its copy is the newer one). Writes touch only their columns.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hub/services/protocol_service.hpp"
#include "hub/services/service_registry.hpp"
#include "hub/update/artifact_library.hpp"
#include "hub/update/update_settings.hpp"
#include "hub/update/update_store.hpp"

namespace tether::hub {

// What the HTTPS listener needs to serve one download.
struct AuthorisedArtifact {
  std::filesystem::path path;
  ArtifactInfo info;  // as hashed: the served file must still match it
};

class UpdateService final : public ProtocolService, public ApiHandler {
 public:
  // Updates kept per device (older final ones are forgotten), events per update,
  // devices per campaign, longest version string.
  static constexpr std::size_t kKeepPerDevice = 20;
  static constexpr std::size_t kMaxCampaignDevices = 100000;
  static constexpr std::size_t kMaxCampaigns = 200;
  static constexpr std::size_t kMaxVersion = 128;

  explicit UpdateService(ServiceContext context) : context_(context) {}
  ~UpdateService() override;

  // The registered update service, if any (main configures it; the HTTPS listener
  // asks it about downloads).
  static UpdateService* in(const ServiceRegistry& registry);

  // Opens the store at `store_url` (the hub's store.url) and, with an artifact dir,
  // the library (and the signing key). `default_url` is used when
  // settings.public_url is empty. Errors name the option at fault.
  Status configure(const UpdateSettings& settings, const sql::StoreUrl& store_url,
                   const std::string& default_url);

  // --- ProtocolService ---
  void on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) override;
  void on_device_online(const std::string& device_id) override;
  ApiHandler* api() override { return this; }

  // --- ApiHandler ---
  std::optional<HttpResponse> handle(const HttpRequest& request, const Caller& caller) override;

  // The artifact a download may read, or nullopt (the caller answers 404).
  std::optional<AuthorisedArtifact> authorise_download(const std::string& name,
                                                       const std::string& grant);

  // --- actions (the JSON routes call these; tests too) ---
  struct OfferRequest {
    std::string device;
    std::string artifact;
    std::string version;  // "" = the artifact's name
    bool consent = false;
    std::string user;
    std::string campaign;
  };
  // The new update's id. kNotFound (device, artifact), kUnavailable (still being
  // hashed, no artifact dir), kBusy (the device has an update that is not final).
  Result<std::string> offer(const OfferRequest& request);
  Status consent(const std::string& update_id, bool accept, const std::string& user);
  Status cancel(const std::string& update_id, const std::string& user);
  Result<std::string> create_campaign(const std::vector<std::string>& devices,
                                      const OfferRequest& request);

  // As the store has it (or this instance's newer copy while its writes are in
  // flight); nullptr: no such update.
  const UpdateEntry* find(const std::string& update_id);
  std::vector<const UpdateEntry*> device_updates(const std::string& device);
  ArtifactLibrary* library() { return library_.get(); }
  UpdateStore* store() { return store_.get(); }
  // "https://host:port/artifacts/NAME?grant=…" of the update's offer (tests).
  std::string last_url() const { return last_url_; }

 private:
  // This instance's writes to one update not committed yet.
  struct Writing {
    int writes = 0;
    std::string stored_state;  // the state before them ("" = no row yet)
  };

  void deliver(UpdateEntry& entry);
  void deliver_queued();
  // Wraps a completion that runs later on the loop (a store commit, a scan): it does
  // nothing once this service is gone.
  template <typename F>
  auto guarded(F f) {
    return [alive = std::weak_ptr<int>(life_), f = std::move(f)](auto&&... args) {
      if (alive.lock()) f(std::forward<decltype(args)>(args)...);
    };
  }
  // A new update: its whole row and its first event.
  void create(UpdateEntry& entry, const std::string& state, const std::string& message);
  // A change of state (only the columns `change` names; its message and time are
  // set here). `then` runs after the commit with whether the change applied.
  void record(UpdateEntry& entry, UpdateChange change, const std::string& message,
              UpdateStore::Changed then = {});
  void begin_write(const std::string& id, const std::string& stored_state);
  void end_write(const std::string& id);
  bool in_flight(const std::string& id) const { return writing_.contains(id); }
  // The store's row replaces the copy in memory unless this instance's writes to it
  // are in flight; events only when the row came with them.
  UpdateEntry* adopt(UpdateEntry row, bool with_events);
  // Reads the update back from the store (see adopt); nullptr when it is gone.
  UpdateEntry* refresh(const std::string& update_id);
  // Reads the device's (campaign's) updates back; copies of ones the store no
  // longer has are dropped. False when the store could not be read.
  bool sync_device(const std::string& device, bool with_events = true);
  bool sync_campaign(const std::string& campaign);
  void forget_old(const std::string& device);
  UpdateEntry* running(const std::string& device);
  std::string entry_json(const UpdateEntry& e, bool events) const;
  // With `counts` (state -> n) for the list; without, the campaign's updates in
  // memory are counted and listed.
  std::string campaign_json(const Campaign& c,
                            const std::map<std::string, std::size_t>* counts) const;
  std::optional<Campaign> find_campaign(const std::string& id);

  HttpResponse list_artifacts();
  HttpResponse offer_route(const HttpRequest& r, const std::string& device, const Caller& caller);
  HttpResponse campaign_route(const HttpRequest& r, const Caller& caller);
  HttpResponse update_route(const HttpRequest& r, const std::string& rest, const Caller& caller);

  ServiceContext context_;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
  std::unique_ptr<UpdateStore> store_;
  std::unique_ptr<ArtifactLibrary> library_;
  std::string base_url_;
  std::string last_url_;
  std::map<std::string, std::unique_ptr<UpdateEntry>> updates_;  // by id
  std::map<std::string, Writing> writing_;                       // by update id
  std::vector<Campaign> campaigns_;  // made here (the store may not have them yet)
};

}  // namespace tether::hub
